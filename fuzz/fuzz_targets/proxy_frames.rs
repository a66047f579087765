#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| edgepg_fuzz::proxy_frames(data));
