//! `psf-guard`: see `psf-guard help`.

fn main() -> std::process::ExitCode {
    psf_host::cli::main(std::env::args().skip(1).collect())
}
