//! Any bytes as a syslog TCP stream, cut by the listener's own framing code (RFC 6587 octet
//! counting and newline framing, chosen frame by frame): it must end, never panic, never
//! yield a message over the limit (a digit run that is not a count is at most 21 bytes), and
//! never yield more message bytes than it was given. The first byte picks the limit.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, stream)) = data.split_first() else {
        return;
    };
    let max = 1 + usize::from(first);
    let frames = onesec_server::syslog_frames_of(stream, max);
    let mut total = 0;
    for frame in frames.iter().flatten() {
        assert!(frame.len() <= max.max(21), "a message over the limit");
        total += frame.len();
    }
    assert!(total <= stream.len(), "more message bytes than received");
});
