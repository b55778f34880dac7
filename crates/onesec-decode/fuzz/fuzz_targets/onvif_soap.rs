//! Any bytes as a device's answer to the ONVIF PullPoint client (capabilities, device time,
//! the pull point, a fault) and as a request (what the tests' fake camera reads): reading must
//! never panic, and a pull point read from the bytes must have an address.

#![no_main]

use libfuzzer_sys::fuzz_target;
use onesec_decode::{
    parse_device_time_ms, parse_events_address, parse_pull_point, parse_request, soap_fault,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(point) = parse_pull_point(data) {
        assert!(!point.address.is_empty());
    }
    let _ = parse_events_address(data);
    let _ = parse_device_time_ms(data);
    let _ = soap_fault(data);
    if let Ok((_, Some(token))) = parse_request(data) {
        let _ = token.verify("password");
    }
});
