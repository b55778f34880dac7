use super::*;

fn store(dir: &Path) -> (AuthStore, Option<String>) {
    AuthStore::open(dir, AuthConfig::default(), 1_000).unwrap()
}

#[test]
fn the_setup_token_creates_one_admin_once() {
    let dir = tempfile::tempdir().unwrap();
    let (mut auth, setup) = store(dir.path());
    let setup = setup.expect("a first start has a setup token");
    let on_disk = std::fs::read_to_string(dir.path().join("setup-token")).unwrap();
    assert_eq!(on_disk.trim(), setup);
    assert!(matches!(
        auth.setup("wrong", "admin", "correct horse battery", 2),
        Err(AuthError::InvalidCredentials)
    ));
    auth.setup(&setup, "admin", "correct horse battery", 2)
        .unwrap();
    assert!(
        !dir.path().join("setup-token").exists(),
        "the used token's file is removed"
    );
    assert!(
        auth.setup(&setup, "admin2", "correct horse battery", 3)
            .is_err()
    );
    drop(auth);
    let (_, again) = store(dir.path());
    assert!(again.is_none(), "no new setup token once a user exists");
}

#[test]
fn logins_open_sessions_that_expire_and_failures_are_limited() {
    let dir = tempfile::tempdir().unwrap();
    let (mut auth, setup) = store(dir.path());
    auth.setup(&setup.unwrap(), "admin", "correct horse battery", 2)
        .unwrap();
    let (session, who) = auth
        .login("admin", "correct horse battery", "10.0.0.1", 10)
        .unwrap();
    assert_eq!(who.role, Role::Admin);
    assert_eq!(auth.authenticate(&session, 11).unwrap(), Some(who.clone()));
    let expired = 10 + AuthConfig::default().session_ms;
    assert_eq!(auth.authenticate(&session, expired).unwrap(), None);
    for t in 0..5 {
        assert!(matches!(
            auth.login("admin", "wrong password!!", "10.0.0.2", 100 + t),
            Err(AuthError::InvalidCredentials)
        ));
    }
    assert!(
        matches!(
            auth.login("admin", "correct horse battery", "10.0.0.3", 200),
            Err(AuthError::RateLimited { .. })
        ),
        "the right password is refused while the user is locked"
    );
    let later = 200 + AuthConfig::default().lockout_ms;
    assert!(
        auth.login("admin", "correct horse battery", "10.0.0.3", later)
            .is_ok()
    );
    assert!(matches!(
        auth.login("nobody", "whatever password", "10.0.0.4", later),
        Err(AuthError::InvalidCredentials)
    ));
}

#[test]
fn tokens_carry_role_and_sites_and_can_expire_or_be_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let (mut auth, _) = store(dir.path());
    let sites = vec!["EDI".to_string()];
    let token = auth
        .create_token(
            "edi-guard",
            Role::PhysicalOperator,
            &sites,
            "admin",
            Some(500),
            10,
        )
        .unwrap();
    let who = auth.authenticate(&token, 20).unwrap().unwrap();
    assert_eq!(who.name, "token:edi-guard");
    assert!(who.sees_site(Some("EDI")) && !who.sees_site(Some("MTL")) && !who.sees_site(None));
    assert!(who.may(Permission::WorkIncidents) && !who.may(Permission::ManageUsers));
    assert_eq!(auth.authenticate(&token, 500).unwrap(), None, "expired");
    let forever = auth
        .create_token("shipper", Role::Ingest, &[], "admin", None, 10)
        .unwrap();
    assert!(auth.authenticate(&forever, i64::MAX - 1).unwrap().is_some());
    assert_eq!(auth.revoke_token("shipper").unwrap(), 1);
    assert_eq!(auth.authenticate(&forever, 20).unwrap(), None);
    assert!(
        auth.create_token("bad name!", Role::Ingest, &[], "admin", None, 1)
            .is_err()
    );
}

#[test]
fn weak_passwords_and_duplicate_users_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (mut auth, _) = store(dir.path());
    let user = User {
        name: "ops".into(),
        role: Role::SocAnalyst,
        sites: vec![],
    };
    assert!(auth.create_user(&user, "short", 1).is_err());
    auth.create_user(&user, "long enough password", 1).unwrap();
    assert!(auth.create_user(&user, "long enough password", 1).is_err());
    assert_eq!(auth.users().unwrap(), vec![user]);
}
