#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| latchkey::fuzz_checks::proxy_path::check(data));
