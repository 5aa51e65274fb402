#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| latchkey::internal::fuzz::http_head::check(data));
