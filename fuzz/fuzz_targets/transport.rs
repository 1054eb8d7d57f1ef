#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| avito_auth_fuzz::transport_target(data));
