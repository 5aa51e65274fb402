#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| latchkey::internal::fuzz::https_redirect::check(data));
