#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| latchkey::fuzz_checks::password_hash::check(data));
