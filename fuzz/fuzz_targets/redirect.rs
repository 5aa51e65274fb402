#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| latchkey::internal::fuzz::redirect::check(data));
