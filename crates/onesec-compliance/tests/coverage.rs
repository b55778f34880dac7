//! The coverage view: it follows the rules' tags, counts evidence of the period only, and
//! answers "evidence for ISO 7.2 and 8.15 last quarter".

use onesec_compliance::mapping::{check_mappings, platform_mappings, rule_mappings};
use onesec_compliance::{
    Catalogue, CoverageStatus, EvidenceItem, EvidenceKind, Period, coverage,
    coverage::alert_evidence,
};
use onesec_incident::Alert;
use onesec_sigma::{LoadOptions, RuleSet};

fn rules(tags: &str) -> RuleSet {
    let text = format!(
        "title: Door forced in a restricted zone\nid: door-restricted\ntags:\n{tags}\nlogsource:\n  category: door\n  product: onesec\ndetection:\n  selection:\n    activity: portal_forced\n  condition: selection\nlevel: high\n"
    );
    let (set, report) = RuleSet::from_sources(&[(None, text.as_str())], &LoadOptions::default());
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    set
}

fn door_alert(at_ms: i64) -> Alert {
    let mut alert: Alert = serde_json::from_value(serde_json::json!({
        "id": format!("al-{at_ms}"), "rule_id": "door-restricted", "title": "Door forced in a restricted zone",
        "severity": "high", "domain": "physical", "status": "active", "event_ids": [1],
        "first_ms": at_ms, "last_ms": at_ms,
        "entities": {"persons": [], "sites": ["hq"], "zones": [], "devices": [], "hosts": [],
                     "portals": [], "accounts": [], "badges": [], "src_ips": []}
    }))
    .expect("alert");
    alert.tags.clear();
    alert
}

const Q3_FROM: i64 = 1_782_864_000_000; // 2026-07-01T00:00:00Z
const Q3_TO: i64 = 1_790_812_799_999; // 2026-09-30T23:59:59.999Z

#[test]
fn coverage_follows_the_tags_of_a_rule() {
    let catalogue = Catalogue::builtin();
    let period = Period {
        from_ms: Q3_FROM,
        to_ms: Q3_TO,
    };
    let alerts = [door_alert(Q3_FROM + 86_400_000)];
    let only = ["iso27001.7.2".to_string(), "iso27001.7.4".to_string()];

    let tagged_72 = rule_mappings(&rules("  - onesec.physical\n  - iso27001.7.2"));
    let evidence = alert_evidence(&alerts, &tagged_72);
    let view = coverage(&catalogue, &tagged_72, &evidence, period, &only, None);
    assert_eq!(view.controls[0].control.id, "iso27001.7.2");
    assert_eq!(view.controls[0].status, CoverageStatus::Evidenced);
    assert_eq!(view.controls[0].rules, ["door-restricted"]);
    assert_eq!(view.controls[1].status, CoverageStatus::NotCovered);

    // The same rule re-tagged for 7.4 only: 7.2 loses its rule and evidence, 7.4 gains them.
    let tagged_74 = rule_mappings(&rules("  - onesec.physical\n  - iso27001.7.4"));
    let evidence = alert_evidence(&alerts, &tagged_74);
    let view = coverage(&catalogue, &tagged_74, &evidence, period, &only, None);
    assert_eq!(view.controls[0].status, CoverageStatus::NotCovered);
    assert!(view.controls[0].rules.is_empty());
    assert_eq!(view.controls[1].status, CoverageStatus::Evidenced);
    assert_eq!(view.controls[1].evidence[0].kind, EvidenceKind::Alert);

    // A misspelt control tag is reported, not dropped silently.
    let typo = rule_mappings(&rules("  - iso27001.7.99x.."));
    let view = coverage(&catalogue, &typo, &[], period, &only, None);
    assert!(!view.unrecognised.is_empty(), "{:?}", view.unrecognised);
}

#[test]
fn evidence_for_iso_7_2_and_8_15_last_quarter() {
    let catalogue = Catalogue::builtin();
    let mut mappings = rule_mappings(&rules("  - iso27001.7.2"));
    mappings.extend(check_mappings());
    mappings.extend(platform_mappings());
    let inside = door_alert(Q3_FROM + 5 * 86_400_000);
    let before = door_alert(Q3_FROM - 86_400_000);
    let mut evidence = alert_evidence(&[inside, before], &mappings);
    evidence.push(EvidenceItem {
        control: "iso27001.8.15".into(),
        kind: EvidenceKind::Checkpoint,
        id: "checkpoint 4711".into(),
        at_ms: Q3_TO - 1000,
        summary: "audit checkpoint".into(),
        sites: vec![],
    });
    let period = Period {
        from_ms: Q3_FROM,
        to_ms: Q3_TO,
    };
    let only = ["ISO27001.A.7.2".to_string(), "iso27001:A.8.15".to_string()];
    let view = coverage(&catalogue, &mappings, &evidence, period, &only, None);
    let ids: Vec<&str> = view
        .controls
        .iter()
        .map(|c| c.control.id.as_str())
        .collect();
    assert_eq!(ids, ["iso27001.7.2", "iso27001.8.15"]);
    assert_eq!(
        view.controls[0].evidence_counts.get("alert"),
        Some(&1),
        "the July alert only"
    );
    assert_eq!(view.controls[1].evidence_counts.get("checkpoint"), Some(&1));
    assert_eq!(view.controls[1].platform, ["audit-log"]);
    assert_eq!(view.evidenced, 2);
    // Another site's evidence is left out when a site is asked for.
    let view = coverage(
        &catalogue,
        &mappings,
        &evidence,
        period,
        &only,
        Some("branch"),
    );
    assert_eq!(view.controls[0].status, CoverageStatus::MappedNoEvidence);
}
