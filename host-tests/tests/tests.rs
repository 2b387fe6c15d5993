mod envoy_passthrough;
mod host_abi;
mod http_mock;
