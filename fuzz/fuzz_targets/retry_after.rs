#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| avito_auth_fuzz::retry_after_target(data));
