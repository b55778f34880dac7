//! Every SigmaHQ regression JSON file (EVTX rendered as pretty-printed, concatenated JSON
//! objects) decodes as Windows events with zero errors and the Sigma field names kept.

mod common;

use common::{ctx, decode_clean};
use onesec_decode::Format;
use onesec_event::EventClass;
use std::path::{Path, PathBuf};

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

#[test]
fn all_regression_json_files_decode() {
    let Some(root) = onesec_testdata::shared("data/sigma/regression_data") else {
        return;
    };
    let mut files = Vec::new();
    json_files(&root, &mut files);
    files.sort();
    assert!(files.len() >= 160, "found {} files", files.len());

    // Expected number of events per case, from the index.
    let index = onesec_testdata::shared("data/sigma/regression_cases.csv").map(|p| {
        let mut reader = csv::Reader::from_path(p).unwrap();
        reader
            .deserialize::<std::collections::HashMap<String, String>>()
            .filter_map(|r| {
                let r = r.unwrap();
                // The Cisco case has a .raw line and no JSON events.
                Some((
                    r["case_folder"].clone(),
                    r["json_events"].parse::<usize>().ok()?,
                ))
            })
            .collect::<std::collections::HashMap<_, _>>()
    });

    let mut total = 0;
    let mut processes = 0;
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        let events = decode_clean(&Format::WindowsJson, &bytes, &ctx(0));
        let auto = decode_clean(&Format::Auto, &bytes, &ctx(0));
        assert_eq!(auto.len(), events.len(), "{}", file.display());
        assert!(!events.is_empty(), "{}", file.display());
        if let Some(index) = &index {
            let case = file
                .parent()
                .unwrap()
                .strip_prefix(root.parent().unwrap())
                .unwrap();
            let expected = index
                .get(case.to_str().unwrap())
                .unwrap_or_else(|| panic!("{} not indexed", case.display()));
            assert_eq!(events.len(), *expected, "{}", file.display());
        }
        for event in &events {
            assert_eq!(event.source.product, "windows");
            assert!(
                event.fields.contains_key("EventID") && event.fields.contains_key("Channel"),
                "{}",
                file.display()
            );
            assert_eq!(event.host.as_deref(), event.fields.get("Computer"));
            assert!(
                event.time_ms > 1_400_000_000_000,
                "{}: SystemTime read",
                file.display()
            );
            assert!(event.raw.starts_with('{') && event.raw.ends_with('}'));
            if event.source.service == "sysmon" && &event.fields["EventID"] == "1" {
                assert_eq!(event.class, EventClass::ProcessActivity);
                assert!(
                    event.fields.contains_key("Image") && event.fields.contains_key("CommandLine")
                );
                processes += 1;
            }
        }
        total += events.len();
    }
    assert_eq!(total, 188, "sum of json_events in regression_cases.csv");
    assert_eq!(processes, 122);
}
