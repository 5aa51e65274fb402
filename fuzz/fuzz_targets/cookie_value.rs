#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| latchkey::internal::fuzz::cookie_value::check(data));
