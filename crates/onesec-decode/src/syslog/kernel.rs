//! Kernel messages; USB device arrival and removal are recognised, the rest stays base.

use super::{set_action, set_source};
use onesec_event::{Activity, Event, EventClass};

/// Decodes one `kernel` message (an uptime prefix such as `[88412.310927]` is skipped).
pub(super) fn decode(text: &str, event: &mut Event) {
    set_source(event, "linux", "kernel".into());
    let text = strip_uptime(text);
    if let Some(rest) = text.strip_prefix("usb ") {
        usb(rest, event);
    } else if let Some(rest) = text.strip_prefix("usb-storage ")
        && rest.contains("USB Mass Storage device detected")
    {
        let interface = rest.split_once(": ").map_or(rest, |(i, _)| i);
        let port = interface.split(':').next().unwrap_or(interface);
        peripheral(event, Activity::Connected, "usb_mass_storage", port);
        event.fields.insert("usb.interface", interface);
        event.fields.insert("usb.class", "mass_storage");
    }
}

/// `2-1: new high-speed USB device number 4 using xhci_hcd`, `2-1: USB disconnect, ...`, and
/// the descriptor lines (`New USB device found, idVendor=...`, `Product: ...`).
fn usb(rest: &str, event: &mut Event) {
    let Some((port, message)) = rest.split_once(": ") else {
        return;
    };
    if let Some(new) = message.strip_prefix("new ")
        && new.contains("USB device number")
    {
        peripheral(event, Activity::Connected, "usb_connected", port);
        if let Some(speed) = new.split_ascii_whitespace().next() {
            event.fields.insert("usb.speed", speed);
        }
        if let Some(number) = crate::scan::word_after(new, "number ") {
            event.fields.insert("usb.device_number", number);
        }
        if let Some(driver) = crate::scan::word_after(new, " using ") {
            event.fields.insert("usb.driver", driver);
        }
    } else if message.starts_with("USB disconnect") {
        peripheral(event, Activity::Disconnected, "usb_disconnected", port);
        if let Some(number) = crate::scan::word_after(message, "number ") {
            event.fields.insert("usb.device_number", number);
        }
    } else if let Some(ids) = message.strip_prefix("New USB device found, ") {
        peripheral(event, Activity::Other, "usb_device_info", port);
        for (key, name) in [
            ("idVendor", "usb.vendor_id"),
            ("idProduct", "usb.product_id"),
        ] {
            if let Some(value) = crate::scan::kv(ids, key) {
                event.fields.insert(name, value);
            }
        }
    } else {
        for (prefix, name) in [
            ("Product: ", "usb.product"),
            ("Manufacturer: ", "usb.manufacturer"),
            ("SerialNumber: ", "usb.serial"),
        ] {
            if let Some(value) = message.strip_prefix(prefix) {
                peripheral(event, Activity::Other, "usb_device_info", port);
                event.fields.insert(name, value.trim());
            }
        }
    }
}

fn peripheral(event: &mut Event, activity: Activity, action: &str, port: &str) {
    event.class = EventClass::PeripheralActivity;
    event.activity = activity;
    set_action(event, action);
    event.fields.insert("usb.port", port.trim());
}

/// `[88412.310927] text` gives `text`.
fn strip_uptime(text: &str) -> &str {
    if let Some(rest) = text.strip_prefix('[')
        && let Some((inside, after)) = rest.split_once(']')
        && inside
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b' ')
    {
        return after.trim_start();
    }
    text
}

#[cfg(test)]
mod tests {
    use crate::{DecodeContext, decode_syslog};
    use onesec_event::{Activity, EventClass};

    fn decode(line: &str) -> onesec_event::Event {
        decode_syslog(line, &DecodeContext::new("test", 1_773_180_000_000)).unwrap()
    }

    #[test]
    fn usb_lifecycle() {
        let e = decode(
            "<4>Mar 10 21:51:58 srv-par-db1 kernel: [88412.310927] usb 2-1: new high-speed USB device number 4 using xhci_hcd",
        );
        assert_eq!(
            (e.class, e.activity),
            (EventClass::PeripheralActivity, Activity::Connected)
        );
        assert_eq!(&e.fields["usb.port"], "2-1");
        assert_eq!(&e.fields["usb.speed"], "high-speed");
        assert_eq!(&e.fields["usb.driver"], "xhci_hcd");
        assert_eq!(&e.fields["action"], "usb_connected");
        let e = decode(
            "<6>Mar 10 21:51:59 srv-par-db1 kernel: [88412.517311] usb-storage 2-1:1.0: USB Mass Storage device detected",
        );
        assert_eq!(e.activity, Activity::Connected);
        assert_eq!(&e.fields["usb.class"], "mass_storage");
        assert_eq!(&e.fields["usb.port"], "2-1");
        assert_eq!(&e.fields["action"], "usb_mass_storage");
        let e =
            decode("Mar 10 21:59:00 h kernel: [    9.5] usb 2-1: USB disconnect, device number 4");
        assert_eq!(e.activity, Activity::Disconnected);
        assert_eq!(&e.fields["action"], "usb_disconnected");
        let e = decode("Mar 10 21:59:00 h kernel: usb 2-1: Product: Cruzer Blade");
        assert_eq!(&e.fields["usb.product"], "Cruzer Blade");
        let e = decode("Mar 10 21:59:00 h kernel: Linux version 2.6.5");
        assert_eq!(e.class, EventClass::Base);
        assert_eq!(e.source.service, "kernel");
    }
}
