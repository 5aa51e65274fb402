#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| latchkey::fuzz_checks::form_decode::check(data));
