//! `psf-demo`: what `make demo` runs. See `psf_host::demo`.

fn main() -> std::process::ExitCode {
    match psf_host::demo::run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("demo failed: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
