#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| latchkey::fuzz_checks::cookie_value::check(data));
