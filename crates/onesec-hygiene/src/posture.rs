//! Posture scores per device, zone and site.
//!
//! * **Device**: `100 − Σ weight`, at least 0, where each check counts once per device at the
//!   worst severity it was found with, and the weights are info 0, low 3, medium 10, high 25,
//!   critical 40. A device with one critical finding scores 60, with a critical and two highs
//!   10 (Σ = 90), with nothing 100.
//! * **Zone, site**: the mean of their devices' scores (one decimal), beside the lowest device
//!   score (the weakest door into the zone) and the count of findings per severity.
//!   Devices with no zone count for their site only; devices with no site are in `(none)`.

use crate::finding::{Finding, Severity};
use crate::inventory::Device;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// One device's posture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DevicePosture {
    /// Device id.
    pub device: String,
    /// Kind.
    pub kind: String,
    /// Site.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// Zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// 0-100.
    pub score: u32,
    /// Worst severity found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst: Option<Severity>,
    /// Findings about it.
    pub findings: usize,
}

/// A zone's or a site's posture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupPosture {
    /// Zone or site id.
    pub id: String,
    /// Devices in it.
    pub devices: usize,
    /// Mean device score, one decimal.
    pub score: f64,
    /// Lowest device score.
    pub min: u32,
    /// Findings per severity.
    pub findings: BTreeMap<Severity, usize>,
}

/// Scores of an estate.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Posture {
    /// Per device, in inventory order.
    pub devices: Vec<DevicePosture>,
    /// Per zone, by id.
    pub zones: Vec<GroupPosture>,
    /// Per site, by id.
    pub sites: Vec<GroupPosture>,
}

/// A device's score from its findings (see the module comment).
pub fn device_score(findings: &[&Finding]) -> u32 {
    let mut worst: Vec<(&str, Severity)> = Vec::with_capacity(findings.len());
    for f in findings {
        match worst.iter_mut().find(|(c, _)| *c == f.check) {
            Some((_, w)) => *w = (*w).max(f.severity),
            None => worst.push((f.check, f.severity)),
        }
    }
    let lost: u32 = worst.iter().map(|(_, s)| s.weight()).sum();
    100u32.saturating_sub(lost)
}

impl Posture {
    /// Scores `devices` given every finding about them.
    pub fn new(devices: &[Device], findings: &[Finding]) -> Posture {
        let index: HashMap<&str, usize> = devices
            .iter()
            .enumerate()
            .map(|(i, d)| (d.id.as_str(), i))
            .collect();
        let mut by_device: Vec<Vec<&Finding>> = vec![Vec::new(); devices.len()];
        let mut last: Option<(&str, usize)> = None;
        for f in findings {
            // findings usually come device by device: skip the lookup for the same device
            let i = match last {
                Some((id, i)) if id == f.device => Some(i),
                _ => index.get(f.device.as_str()).copied(),
            };
            if let Some(i) = i {
                by_device[i].push(f);
                last = Some((f.device.as_str(), i));
            }
        }
        let mut posture = Posture::default();
        let mut zones: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        let mut sites: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, d) in devices.iter().enumerate() {
            let own = by_device[i].as_slice();
            posture.devices.push(DevicePosture {
                device: d.id.clone(),
                kind: d.kind.clone(),
                site: d.site.clone(),
                zone: d.zone.clone(),
                score: device_score(own),
                worst: own.iter().map(|f| f.severity).max(),
                findings: own.len(),
            });
            if let Some(zone) = &d.zone {
                zones.entry(zone).or_default().push(i);
            }
            sites
                .entry(d.site.as_deref().unwrap_or("(none)"))
                .or_default()
                .push(i);
        }
        let group = |id: &str, members: Vec<usize>, posture: &Posture| {
            let scores: Vec<u32> = members.iter().map(|&i| posture.devices[i].score).collect();
            let mut counts = BTreeMap::new();
            for &i in &members {
                for f in &by_device[i] {
                    *counts.entry(f.severity).or_insert(0) += 1;
                }
            }
            let mean = f64::from(scores.iter().sum::<u32>()) / scores.len().max(1) as f64;
            GroupPosture {
                id: id.to_string(),
                devices: members.len(),
                score: (mean * 10.0).round() / 10.0,
                min: scores.iter().copied().min().unwrap_or(100),
                findings: counts,
            }
        };
        let zone_list: Vec<GroupPosture> = zones
            .into_iter()
            .map(|(id, m)| group(id, m, &posture))
            .collect();
        let site_list: Vec<GroupPosture> = sites
            .into_iter()
            .map(|(id, m)| group(id, m, &posture))
            .collect();
        posture.zones = zone_list;
        posture.sites = site_list;
        posture
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::checks;
    use crate::inventory::Inventory;

    #[test]
    fn scores_follow_the_documented_formula() {
        let inv = Inventory::from_csv(
            "i.csv",
            "id,kind,site,zone\nA,camera,PAR,Z1\nB,camera,PAR,Z1\nC,reader,PAR,\nD,reader,,\n",
        )
        .unwrap();
        let d = &inv.devices;
        let f = |check, severity, i: usize| Finding::new(check, severity, &d[i], "t", "e");
        let findings = vec![
            f(checks::VULN_KEV, Severity::High, 0),
            f(checks::VULN_KEV, Severity::Critical, 0), // same check: counts once, at its worst
            f(checks::EXP_TELNET, Severity::High, 0),
            f(checks::CRED_DEFAULT, Severity::Critical, 0),
            f(checks::LIVE_UNKNOWN, Severity::Info, 1),
            f(checks::EXP_RTSP, Severity::Medium, 2),
        ];
        let p = Posture::new(d, &findings);
        let scores: Vec<u32> = p.devices.iter().map(|x| x.score).collect();
        assert_eq!(scores, [0, 100, 90, 100]); // 100 - (40 + 25 + 40) floors at 0
        assert_eq!(p.devices[0].worst, Some(Severity::Critical));
        assert_eq!(p.zones.len(), 1);
        assert_eq!((p.zones[0].score, p.zones[0].min), (50.0, 0));
        let par = p.sites.iter().find(|s| s.id == "PAR").unwrap();
        assert_eq!((par.devices, par.score), (3, 63.3));
        assert_eq!(par.findings[&Severity::Critical], 2);
        assert!(p.sites.iter().any(|s| s.id == "(none)" && s.score == 100.0));
    }
}
