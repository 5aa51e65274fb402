#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| latchkey::fuzz_checks::upstream_response::check(data));
