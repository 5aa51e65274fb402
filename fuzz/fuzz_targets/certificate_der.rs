#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| latchkey::internal::fuzz::certificate_der::check(data));
