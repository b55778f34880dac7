//! The playbooks onesec ships (`playbooks/` at the workspace root), embedded so the binary needs
//! no files to respond to its first incident.

use crate::load::LoadError;
use crate::model::Playbook;
use crate::run::Library;

/// Owner identity of IT SOC steps in the shipped playbooks.
pub const IDENTITY_IT_SOC: &str = "identity--5e6f33d1-99b1-4244-a573-942498a4a201";
/// Owner identity of physical security steps.
pub const IDENTITY_PHYSICAL: &str = "identity--ad36101f-af4e-4616-9452-341f19d9de2b";
/// Owner identity of compliance (and DPO) steps.
pub const IDENTITY_COMPLIANCE: &str = "identity--b5870892-6c65-46f1-a3a8-5c6403d4b041";
/// Owner identity of management steps.
pub const IDENTITY_MANAGEMENT: &str = "identity--c5cd34a9-c134-460b-b2e9-7956c6eee6ce";

const HYBRID_INTRUSION: &str = include_str!("../../../playbooks/hybrid-intrusion.json");
const NOTIFY_MANAGEMENT: &str = include_str!("../../../playbooks/notify-management.json");
const NOTIFY_DPO: &str = include_str!("../../../playbooks/notify-dpo.json");
const NOTIFY_AUTHORITY: &str = include_str!("../../../playbooks/notify-authority.json");

/// The default response to a hybrid (physical + cyber) intrusion.
pub fn hybrid_intrusion() -> Result<Playbook, LoadError> {
    Playbook::from_json(HYBRID_INTRUSION)
}

/// The notification sub-playbooks the default playbook calls (management, DPO, authority).
pub fn library() -> Result<Library, LoadError> {
    let mut library = Library::new();
    for text in [NOTIFY_MANAGEMENT, NOTIFY_DPO, NOTIFY_AUTHORITY] {
        library.add(Playbook::from_json(text)?);
    }
    Ok(library)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_playbooks_load_without_findings() {
        let hybrid = hybrid_intrusion().expect("hybrid playbook loads");
        assert_eq!(hybrid.validate(), vec![], "no warnings either");
        let library = library().expect("sub-playbooks load");
        for step in hybrid.workflow.values() {
            if let Some(id) = &step.playbook_id {
                let called = library.get(id).expect("called playbook is shipped");
                assert_eq!(called.validate(), vec![]);
            }
        }
    }
}
