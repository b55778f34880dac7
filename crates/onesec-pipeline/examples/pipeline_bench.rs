//! Whole-pipeline benchmark: raw lines → decode → resolve → durable journal → detection (Sigma
//! engine with the built-in converged rules) → incident grouping → SQLite store.
//!
//! ```sh
//! cargo run --release -p onesec-pipeline --example pipeline_bench -- --help
//! cargo run --release -p onesec-pipeline --example pipeline_bench -- --runs 3
//! cargo run --release -p onesec-pipeline --example pipeline_bench -- --mode throughput --encrypt
//! ```
//!
//! The input is a synthetic but realistic mix of raw lines for the Northwind example company
//! (`examples/northwind`), generated before any timing starts:
//!
//! * ~40 % sshd syslog (RFC 5424 and RFC 3164; accepted, session, failed, invalid user,
//!   disconnects; internet scanners against bastions),
//! * ~25 % Windows Security 4624/4625 in the Winlogbeat NDJSON shape,
//! * ~25 % ONVIF onvif-ej access granted/denied lines,
//! * ~10 % other: door state and alarms, camera motion and tamper, kernel USB lines, OpenVPN,
//!   sudo.
//!
//! Event time advances by `--step-ms` per line (default 1 ms). Northwind's directory lists 9
//! people and 10 readers while 100 000 events/s come from an estate thousands of times larger,
//! so a share of the traffic (`--known-share`) involves the directory's people, doors and
//! servers at plausible per-entity rates and the rest comes from the unlisted estate (accounts,
//! badges, readers, hosts that resolve to nothing, as unmanaged assets do). Every
//! `--attack-every` lines an attack scenario is injected so that alerts and incidents really
//! happen (forced server-room door then USB + root console login two minutes later, a
//! terminated person's badge and account, brute force then a login, denials then a grant, an
//! account on leave, camera tamper + brute force at one site, bastion brute force).
//!
//! Modes:
//!
//! * **components**: one thread, each stage timed in isolation over the same lines (decode,
//!   resolve, JSON encode for the journal, JSON parse in detection, Sigma engine only, SQLite
//!   commit) so the bottleneck is visible;
//! * **throughput**: `--tasks` concurrent tokio tasks call `Ingestor::ingest_body` with batches
//!   of `--batch` lines as fast as possible; end-to-end rate = events / (first send → detection
//!   caught up with the journal);
//! * **latency**: batches of `--latency-batch` lines paced by the wall clock at `--rate`
//!   events/s; per batch, the time from just before `ingest_body` to `status().detected_seq >=
//!   last_id` (polled every `--poll-us`).
//!
//! "Detected" means the batch's events went through the Sigma engine and the grouper and were
//! committed to the SQLite store together with any alerts and incidents.

use clap::{Parser, ValueEnum};
use onesec_testdata::SplitMix64 as Rng;

// mimalloc, as in the `onesec` binary: the pipeline allocates and frees many small strings per
// event, and glibc malloc's free-list work was about a tenth of the ingest workers' samples.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use onesec_decode::{DecodeContext, Format, decode_bytes};
use onesec_directory::Directory;
use onesec_event::Event;
use onesec_pipeline::{Config, EventRecord, Pipeline, RulesConfig, load_rules};
use onesec_sigma::{Engine, EngineConfig};
use onesec_store::{DetectionBatch, IncidentFilter, SqliteStore, Store};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    All,
    Components,
    Throughput,
    Latency,
}

/// Whole-pipeline benchmark of onesec on synthetic Northwind traffic.
#[derive(Parser, Debug, Clone)]
#[command(name = "pipeline_bench")]
struct Args {
    /// What to run.
    #[arg(long, value_enum, default_value = "all")]
    mode: Mode,
    /// Events sent in throughput mode (and used by the components pass).
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Lines per `ingest_body` call in throughput mode.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Concurrent sending tasks in throughput mode.
    #[arg(long, default_value_t = 4)]
    tasks: usize,
    /// Tokio worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    workers: usize,
    /// Journal fsync policy: always, never or interval:<ms>.
    #[arg(long, default_value = "always")]
    fsync: String,
    /// Run without the audit log (`[audit] enabled = false`), to measure what auditing costs.
    #[arg(long)]
    no_audit: bool,
    /// Keep the store in PostgreSQL (`[store] backend = "postgres"`) at this URL instead of
    /// the SQLite file; use an empty `--store-schema` and drop it afterwards.
    #[arg(long)]
    store_url: Option<String>,
    /// PostgreSQL schema for `--store-url` (created if missing).
    #[arg(long, default_value = "onesec_bench")]
    store_schema: String,
    /// Offered load in latency mode, events per second.
    #[arg(long, default_value_t = 50_000)]
    rate: u64,
    /// Lines per batch in latency mode.
    #[arg(long, default_value_t = 100)]
    latency_batch: usize,
    /// Duration of the paced load in latency mode, seconds.
    #[arg(long, default_value_t = 20)]
    latency_secs: u64,
    /// Batches sent in the first seconds of latency mode are not counted.
    #[arg(long, default_value_t = 2)]
    warmup_secs: u64,
    /// How often latency mode polls `Pipeline::status()`, microseconds.
    #[arg(long, default_value_t = 200)]
    poll_us: u64,
    /// Event time between consecutive lines, milliseconds.
    #[arg(long, default_value_t = 1.0)]
    step_ms: f64,
    /// Share of background lines about the directory's own people, doors and servers.
    #[arg(long, default_value_t = 0.02)]
    known_share: f64,
    /// Inject an attack scenario every this many lines (0: never).
    #[arg(long, default_value_t = 50_000)]
    attack_every: usize,
    /// Events in the single-threaded components pass (default: --events).
    #[arg(long)]
    component_events: Option<usize>,
    /// Repetitions of each timed mode (the median is reported).
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Seed of the generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Folder in which the temporary data folders are created (default: the system temp dir).
    #[arg(long)]
    data_parent: Option<PathBuf>,
    /// Write the generated lines to this file and continue.
    #[arg(long)]
    dump: Option<PathBuf>,
    /// Components pass: pseudonymise every resolved event (`[privacy.pseudonymisation]`) as
    /// its own stage, and count the HMACs it computes.
    #[arg(long)]
    pseudonymise: bool,
    /// Encryption at rest on (`[privacy.encryption]`): a fresh random key is installed for the
    /// whole run, so the journal, the store, the other databases and the audit entries are
    /// encrypted in every mode. Compare with a run without it (alternate the two).
    #[arg(long)]
    encrypt: bool,
}

// ---------------------------------------------------------------------------------------------
// Generator
// ---------------------------------------------------------------------------------------------

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn bsd_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%b %e %H:%M:%S")
        .to_string()
}

/// A Northwind employee listed in `examples/northwind/people.csv`.
struct Person {
    user: &'static str,
    badge: &'static str,
    name: &'static str,
    edi: bool,
    pc: Option<&'static str>,
    ip: &'static str,
}

/// On-site people of the directory (the terminated, on-leave and remote ones only appear in
/// attack scenarios or over the VPN).
const PEOPLE: [Person; 6] = [
    Person {
        user: "icampbell",
        badge: "0x7A1001",
        name: "Isla Campbell",
        edi: true,
        pc: Some("PC-EDI-012"),
        ip: "10.40.20.12",
    },
    Person {
        user: "rmacleod",
        badge: "0x7A1002",
        name: "Rory MacLeod",
        edi: true,
        pc: Some("PC-EDI-017"),
        ip: "10.40.20.17",
    },
    Person {
        user: "mfraser",
        badge: "0x7A1003",
        name: "Morag Fraser",
        edi: true,
        pc: None,
        ip: "10.40.20.23",
    },
    Person {
        user: "pnair",
        badge: "0x7A1007",
        name: "Priya Nair",
        edi: true,
        pc: None,
        ip: "10.40.20.31",
    },
    Person {
        user: "etremblay",
        badge: "0x7A2001",
        name: "Élodie Tremblay",
        edi: false,
        pc: Some("PC-MTL-003"),
        ip: "10.60.20.3",
    },
    Person {
        user: "lbergeron",
        badge: "0x7A2004",
        name: "Lucas Bergeron",
        edi: false,
        pc: None,
        ip: "10.60.20.14",
    },
];

const EDI_READERS: [(&str, &str); 3] = [
    ("RDR-EDI-01", "in"),
    ("RDR-EDI-02", "out"),
    ("RDR-EDI-05", "in"),
];
const MTL_READERS: [(&str, &str); 4] = [
    ("RDR-MTL-01", "in"),
    ("RDR-MTL-02", "out"),
    ("RDR-MTL-07", "in"),
    ("RDR-MTL-11", "in"),
];
const KNOWN_SERVERS: [&str; 3] = ["srv-edi-fs1", "srv-edi-build", "srv-mtl-lims"];
const KNOWN_DOORS: [(&str, &str); 7] = [
    ("ctl-edi-01", "EDI-D-MAIN"),
    ("ctl-edi-01", "EDI-D-OFF"),
    ("ctl-edi-01", "EDI-D-SRV"),
    ("ctl-mtl-01", "MTL-D-MAIN"),
    ("ctl-mtl-01", "MTL-D-LAB"),
    ("ctl-mtl-01", "MTL-D-COLD"),
    ("ctl-mtl-01", "MTL-D-DOCK"),
];
const KNOWN_CAMERAS: [&str; 6] = [
    "cam-edi-reception",
    "cam-edi-office",
    "cam-edi-srv",
    "cam-mtl-lobby",
    "cam-mtl-lab",
    "cam-mtl-dock",
];

/// The rest of the estate: sites whose hosts, doors and people are not in the directory.
const ESTATE_SITES: [&str; 3] = ["gla", "ldn", "qbc"];
const SERVICE_ACCOUNTS: [&str; 8] = [
    "deploy",
    "ansible",
    "backup",
    "jenkins",
    "nagios",
    "postgres",
    "git",
    "prometheus",
];
const SCANNER_USERS: [&str; 12] = [
    "root", "admin", "test", "ubuntu", "oracle", "user", "guest", "pi", "postgres", "ftpuser",
    "support", "git",
];
const FIRST: [&str; 20] = [
    "Ailsa", "Brodie", "Catriona", "Duncan", "Eilidh", "Fraser", "Gillian", "Hamish", "Iona",
    "Jamie", "Kirsty", "Lachlan", "Mhairi", "Niall", "Orla", "Ruaridh", "Shona", "Tam", "Una",
    "Euan",
];
const LAST: [&str; 20] = [
    "Smith",
    "Brown",
    "Wilson",
    "Robertson",
    "Thomson",
    "Campbell",
    "Stewart",
    "Anderson",
    "Scott",
    "Murray",
    "MacDonald",
    "Reid",
    "Taylor",
    "Clark",
    "Ross",
    "Young",
    "Mitchell",
    "Watson",
    "Paterson",
    "Morrison",
];
const COMMANDS: [&str; 6] = [
    "/usr/bin/systemctl restart nginx",
    "/usr/bin/apt-get -y upgrade",
    "/usr/bin/journalctl -u postgresql --since today",
    "/usr/sbin/logrotate -f /etc/logrotate.conf",
    "/usr/bin/docker compose -f /srv/app/compose.yaml pull",
    "/usr/bin/rsync -a /srv/data/ backup01:/srv/backup/",
];
const ESTATE_USERS: usize = 9000;
const ESTATE_PCS: usize = 700; // per site
const SCANNERS: usize = 5000;

/// Counts of generated lines per family.
#[derive(Default, Debug, Clone)]
struct Mix {
    ssh: usize,
    windows: usize,
    onvif: usize,
    other: usize,
    attack: usize,
    known: usize,
}

struct Gen {
    rng: Rng,
    t0: i64,
    known_share: f64,
    record_id: u64,
    mix: Mix,
}

impl Gen {
    fn estate_user(&mut self) -> (usize, String) {
        let n = self.rng.below(ESTATE_USERS);
        (n, format!("nw{n:05}"))
    }
    fn holder(n: usize) -> String {
        format!(
            "{} {}",
            FIRST[n % FIRST.len()],
            LAST[(n / FIRST.len()) % LAST.len()]
        )
    }
    fn internal_ip(&mut self) -> String {
        format!(
            "10.{}.{}.{}",
            self.rng.range(100, 140),
            self.rng.range(0, 255),
            self.rng.range(2, 254)
        )
    }
    /// A workstation of the estate and its fixed address.
    fn estate_pc(&mut self) -> (String, String) {
        let s = self.rng.below(ESTATE_SITES.len());
        let n = self.rng.below(ESTATE_PCS) + 1;
        (
            format!("PC-{}-{n:04}", ESTATE_SITES[s].to_uppercase()),
            format!("10.{}.{}.{}", 110 + s * 10, n / 200, n % 200 + 10),
        )
    }
    fn scanner_ip(&mut self) -> String {
        let n = self.rng.below(SCANNERS);
        format!("198.18.{}.{}", n / 256, n % 256)
    }
    fn lnx_host(&mut self) -> String {
        format!(
            "lnx-{}-{:03}",
            self.rng.pick(&ESTATE_SITES),
            self.rng.range(1, 150)
        )
    }
    fn port(&mut self) -> u64 {
        self.rng.range(1024, 65535)
    }
    fn pid(&mut self) -> u64 {
        self.rng.range(900, 65000)
    }
    fn fingerprint(&mut self) -> String {
        const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = String::with_capacity(50);
        s.push_str(if self.rng.chance(0.7) {
            "ED25519 SHA256:"
        } else {
            "RSA SHA256:"
        });
        for _ in 0..43 {
            s.push(B64[self.rng.below(64)] as char);
        }
        s
    }

    /// A syslog line; RFC 5424 (with millisecond time, sometimes structured data) or RFC 3164.
    fn syslog(&mut self, pri: u8, t: i64, host: &str, app: &str, msg: &str) -> String {
        let pid = self.pid();
        if self.rng.chance(0.7) {
            let sd = if self.rng.chance(0.3) {
                format!(
                    "[origin ip=\"{}\" software=\"rsyslogd\" swVersion=\"8.2312.0\"][timeQuality tzKnown=\"1\" isSynced=\"1\"]",
                    self.internal_ip()
                )
            } else {
                "-".to_string()
            };
            format!("<{pri}>1 {} {host} {app} {pid} - {sd} {msg}", rfc3339(t))
        } else {
            format!("<{pri}>{} {host} {app}[{pid}]: {msg}", bsd_time(t))
        }
    }

    fn ssh(&mut self, t: i64, known: bool) -> String {
        if known {
            let p = self.rng.pick(&PEOPLE);
            let (user, ip) = (p.user, p.ip);
            let host = *self.rng.pick(&KNOWN_SERVERS);
            let port = self.port();
            let msg = match self.rng.below(3) {
                0 => format!(
                    "Accepted publickey for {user} from {ip} port {port} ssh2: {}",
                    self.fingerprint()
                ),
                1 => format!(
                    "pam_unix(sshd:session): session opened for user {user}(uid={}) by (uid=0)",
                    1000 + self.rng.below(9)
                ),
                _ => format!("pam_unix(sshd:session): session closed for user {user}"),
            };
            return self.syslog(86, t, host, "sshd", &msg);
        }
        let r = self.rng.below(100);
        let port = self.port();
        let (host, msg, pri) = if r < 70 {
            let host = self.lnx_host();
            let user = if self.rng.chance(0.6) {
                self.rng.pick(&SERVICE_ACCOUNTS).to_string()
            } else {
                self.estate_user().1
            };
            let ip = self.internal_ip();
            let msg = match r {
                0..30 => format!(
                    "Accepted publickey for {user} from {ip} port {port} ssh2: {}",
                    self.fingerprint()
                ),
                30..35 => format!("Accepted password for {user} from {ip} port {port} ssh2"),
                35..55 => format!(
                    "pam_unix(sshd:session): session opened for user {user}(uid={}) by (uid=0)",
                    1000 + self.rng.below(5000)
                ),
                _ => format!("pam_unix(sshd:session): session closed for user {user}"),
            };
            (host, msg, 86)
        } else {
            // Internet noise against the bastions.
            let host = format!(
                "bastion-{}-{}",
                self.rng.pick(&ESTATE_SITES),
                self.rng.range(1, 3)
            );
            let ip = self.scanner_ip();
            let user = *self.rng.pick(&SCANNER_USERS);
            let msg = match r {
                70..80 => format!("Failed password for {user} from {ip} port {port} ssh2"),
                80..88 => format!(
                    "Failed password for invalid user {user}{} from {ip} port {port} ssh2",
                    self.rng.below(100)
                ),
                88..92 => format!(
                    "Invalid user {user}{} from {ip} port {port}",
                    self.rng.below(100)
                ),
                92..96 => format!(
                    "Connection closed by authenticating user {user} {ip} port {port} [preauth]"
                ),
                _ => format!("Received disconnect from {ip} port {port}:11: Bye Bye [preauth]"),
            };
            (host, msg, 38)
        };
        self.syslog(pri, t, &host, "sshd", &msg)
    }

    #[allow(clippy::too_many_arguments)]
    fn winlogon(
        &mut self,
        t: i64,
        host: &str,
        success: bool,
        user: &str,
        domain: &str,
        logon_type: u8,
        ws: &str,
        ip: &str,
    ) -> String {
        self.record_id += 1;
        let id = if success { 4624 } else { 4625 };
        let port = if ip == "-" {
            "-".to_string()
        } else {
            self.port().to_string()
        };
        let (process, package) = match logon_type {
            3 => ("NtLmSsp ", "NTLM"),
            5 => ("Advapi  ", "Negotiate"),
            _ => ("User32 ", "Negotiate"),
        };
        let failure = if success {
            String::new()
        } else {
            ", \"Status\": \"0xc000006d\", \"SubStatus\": \"0xc000006a\", \"FailureReason\": \"%%2313\"".to_string()
        };
        format!(
            "{{\"@timestamp\": \"{ts}\", \"event\": {{\"code\": \"{id}\", \"provider\": \"Microsoft-Windows-Security-Auditing\", \"outcome\": \"{outcome}\"}}, \
             \"host\": {{\"name\": \"{host}\"}}, \"winlog\": {{\"channel\": \"Security\", \"event_id\": {id}, \"computer_name\": \"{host}\", \
             \"provider_name\": \"Microsoft-Windows-Security-Auditing\", \"record_id\": {rec}, \"keywords\": [\"{kw}\"], \"event_data\": {{\
             \"TargetUserName\": \"{user}\", \"TargetDomainName\": \"{domain}\", \"LogonType\": \"{logon_type}\", \"LogonProcessName\": \"{process}\", \
             \"AuthenticationPackageName\": \"{package}\", \"WorkstationName\": \"{ws}\", \"IpAddress\": \"{ip}\", \"IpPort\": \"{port}\"{failure}}}}}}}",
            ts = rfc3339(t),
            outcome = if success { "success" } else { "failure" },
            rec = self.record_id,
            kw = if success {
                "Audit Success"
            } else {
                "Audit Failure"
            },
        )
    }

    fn windows(&mut self, t: i64, known: bool) -> String {
        if known {
            let p = self.rng.pick(&PEOPLE);
            return match p.pc {
                Some(pc) if self.rng.chance(0.5) => {
                    self.winlogon(t, pc, true, p.user, "NWL", 2, pc, "127.0.0.1")
                }
                _ => {
                    let dc = if p.edi { "DC-EDI-01" } else { "DC-MTL-01" };
                    self.winlogon(t, dc, true, p.user, "NWL", 3, p.pc.unwrap_or("-"), p.ip)
                }
            };
        }
        let r = self.rng.below(100);
        let (pc, ip) = self.estate_pc();
        let (n, user) = self.estate_user();
        let site = ESTATE_SITES[n % ESTATE_SITES.len()].to_uppercase();
        let server = if self.rng.chance(0.5) {
            format!("DC-{site}-0{}", self.rng.range(1, 2))
        } else {
            format!("FS-{site}-0{}", self.rng.range(1, 4))
        };
        match r {
            0..65 => self.winlogon(t, &server, true, &user, "NWL", 3, &pc, &ip),
            65..75 => self.winlogon(t, &pc, true, "SYSTEM", "NT AUTHORITY", 5, "-", "-"),
            75..83 => {
                let logon_type = if self.rng.chance(0.8) { 2 } else { 11 };
                self.winlogon(t, &pc, true, &user, "NWL", logon_type, &pc, "127.0.0.1")
            }
            83..90 => self.winlogon(t, &server, true, &user, "NWL", 10, &pc, &ip),
            90..98 => self.winlogon(t, &server, false, &user, "NWL", 3, &pc, &ip),
            _ => self.winlogon(t, &pc, false, &user, "NWL", 2, &pc, "127.0.0.1"),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn access(
        &mut self,
        t: i64,
        ctl: &str,
        reader: &str,
        badge: &str,
        holder: &str,
        direction: &str,
        denied: Option<&str>,
    ) -> String {
        let ts = rfc3339(t);
        match denied {
            None => format!(
                "{{\"topic\": \"northwind/{ctl}/onvif-ej/AccessControl/AccessGranted/Credential/&{reader}\", \"payload\": {{\"UtcTime\": \"{ts}\", \
                 \"Source\": {{\"AccessPointToken\": \"{reader}\"}}, \"Data\": {{\"CredentialToken\": \"{badge}\", \"CredentialHolderName\": \"{holder}\", \
                 \"External\": \"false\", \"Direction\": \"{direction}\"}}}}}}"
            ),
            Some("CredentialNotFound") => format!(
                "{{\"topic\": \"northwind/{ctl}/onvif-ej/AccessControl/Denied/CredentialNotFound/Card/&{reader}\", \"payload\": {{\"UtcTime\": \"{ts}\", \
                 \"Source\": {{\"AccessPointToken\": \"{reader}\"}}, \"Data\": {{\"Card\": \"{badge}\"}}}}}}"
            ),
            Some(reason) => format!(
                "{{\"topic\": \"northwind/{ctl}/onvif-ej/AccessControl/Denied/Credential/&{reader}\", \"payload\": {{\"UtcTime\": \"{ts}\", \
                 \"Source\": {{\"AccessPointToken\": \"{reader}\"}}, \"Data\": {{\"CredentialToken\": \"{badge}\", \"CredentialHolderName\": \"{holder}\", \
                 \"Reason\": \"{reason}\", \"External\": \"false\", \"Direction\": \"{direction}\"}}}}}}"
            ),
        }
    }

    fn onvif(&mut self, t: i64, known: bool) -> String {
        if known {
            let p = self.rng.pick(&PEOPLE);
            let (ctl, (reader, direction)) = if p.edi {
                let mut r = *self.rng.pick(&EDI_READERS);
                if p.user == "icampbell" && self.rng.chance(0.2) {
                    r = ("RDR-EDI-09", "in");
                }
                ("ctl-edi-01", r)
            } else {
                ("ctl-mtl-01", *self.rng.pick(&MTL_READERS))
            };
            let denied = self.rng.chance(0.003).then_some("InvalidTimeSchedule");
            return self.access(t, ctl, reader, p.badge, p.name, direction, denied);
        }
        let s = self.rng.below(ESTATE_SITES.len());
        let n = self.rng.range(1, 120);
        let ctl = format!("ctl-{}-{:02}", ESTATE_SITES[s], n % 12 + 1);
        let reader = format!("RDR-{}-{n:03}", ESTATE_SITES[s].to_uppercase());
        let direction = if n.is_multiple_of(3) { "out" } else { "in" };
        let (u, _) = self.estate_user();
        let r = self.rng.below(1000);
        match r {
            0..965 => self.access(
                t,
                &ctl,
                &reader,
                &format!("0x7B{u:04X}"),
                &Self::holder(u),
                direction,
                None,
            ),
            965..990 => {
                let reason = *self.rng.pick(&[
                    "CredentialNotActive",
                    "InvalidTimeSchedule",
                    "AntipassbackViolation",
                    "CredentialExpired",
                ]);
                self.access(
                    t,
                    &ctl,
                    &reader,
                    &format!("0x7B{u:04X}"),
                    &Self::holder(u),
                    direction,
                    Some(reason),
                )
            }
            _ => {
                let card = format!("0x{:06X}", self.rng.range(0x100000, 0xFFFFFF));
                self.access(
                    t,
                    &ctl,
                    &reader,
                    &card,
                    "",
                    direction,
                    Some("CredentialNotFound"),
                )
            }
        }
    }

    fn door(&mut self, t: i64, ctl: &str, door: &str, topic: &str, state: &str) -> String {
        format!(
            "{{\"topic\": \"northwind/{ctl}/onvif-ej/Door/State/{topic}/&{door}\", \"payload\": {{\"UtcTime\": \"{}\", \"PropertyOperation\": \"Changed\", \
             \"Source\": {{\"DoorToken\": \"{door}\"}}, \"Data\": {{\"State\": \"{state}\"}}}}}}",
            rfc3339(t)
        )
    }

    fn camera(&mut self, t: i64, cam: &str, topic: &str, state: bool) -> String {
        format!(
            "{{\"topic\": \"northwind/{cam}/onvif-ej/VideoSource/{topic}/&VideoSource_1\", \"payload\": {{\"UtcTime\": \"{}\", \"PropertyOperation\": \"Changed\", \
             \"Source\": {{\"Source\": \"VideoSource_1\"}}, \"Data\": {{\"State\": \"{state}\"}}}}}}",
            rfc3339(t)
        )
    }

    fn usb(&mut self, t: i64, host: &str, step: usize) -> String {
        let uptime = format!(
            "[{}.{:06}]",
            self.rng.range(1000, 900_000),
            self.rng.below(1_000_000)
        );
        let port = "2-1";
        let msg = match step {
            0 => format!(
                "{uptime} usb {port}: new high-speed USB device number {} using xhci_hcd",
                self.rng.range(2, 20)
            ),
            1 => format!("{uptime} usb-storage {port}:1.0: USB Mass Storage device detected"),
            2 => format!(
                "{uptime} usb {port}: New USB device found, idVendor=0781, idProduct=5581, bcdDevice= 1.00"
            ),
            _ => format!(
                "{uptime} usb {port}: USB disconnect, device number {}",
                self.rng.range(2, 20)
            ),
        };
        self.syslog(6, t, host, "kernel", &msg)
    }

    fn vpn(&mut self, t: i64, gateway: &str, user: &str, ip: &str, kind: usize) -> String {
        let port = self.port();
        let msg = match kind {
            0 => {
                format!("{ip}:{port} [{user}] Peer Connection Initiated with [AF_INET]{ip}:{port}")
            }
            1 => format!(
                "{user}/{ip}:{port} MULTI_sva: pool returned IPv4=10.98.{}.{}, IPv6=(Not enabled)",
                self.rng.range(0, 7),
                self.rng.range(2, 254)
            ),
            2 => format!(
                "{user}/{ip}:{port} SIGTERM[soft,remote-exit] received, client-instance exiting"
            ),
            _ => format!(
                "{ip}:{port} TLS Auth Error: Auth Username/Password verification failed for peer"
            ),
        };
        self.syslog(86, t, gateway, "openvpn", &msg)
    }

    fn other(&mut self, t: i64, known: bool) -> String {
        let r = self.rng.below(1000);
        let s = self.rng.below(ESTATE_SITES.len());
        let n = self.rng.range(1, 120);
        let (ctl, door) = if known {
            let (c, d) = *self.rng.pick(&KNOWN_DOORS);
            (c.to_string(), d.to_string())
        } else {
            (
                format!("ctl-{}-{:02}", ESTATE_SITES[s], n % 12 + 1),
                format!("{}-D-{n:03}", ESTATE_SITES[s].to_uppercase()),
            )
        };
        let cam = if known {
            self.rng.pick(&KNOWN_CAMERAS).to_string()
        } else {
            format!("cam-{}-{:03}", ESTATE_SITES[s], n % 80 + 1)
        };
        match r {
            0..280 => {
                let state = if self.rng.chance(0.5) {
                    "Open"
                } else {
                    "Closed"
                };
                self.door(t, &ctl, &door, "DoorPhysicalState", state)
            }
            280..360 => {
                let state = match self.rng.below(1000) {
                    _ if known => "Normal",
                    0..5 => "DoorForcedOpen",
                    5..55 => "DoorOpenTooLong",
                    _ => "Normal",
                };
                self.door(t, &ctl, &door, "DoorAlarm", state)
            }
            360..598 => {
                let state = self.rng.chance(0.5);
                self.camera(t, &cam, "MotionAlarm", state)
            }
            598..600 => {
                let state = self.rng.chance(0.5);
                self.camera(t, &cam, "ImageTooDark/ImagingService", state)
            }
            600..730 => {
                let host = self.lnx_host();
                let step = self.rng.below(4);
                self.usb(t, &host, step)
            }
            730..880 => {
                let (user, ip, gateway) = if known {
                    (
                        "slindqvist".to_string(),
                        "203.0.113.41".to_string(),
                        "vpn-edi".to_string(),
                    )
                } else {
                    let ip = format!(
                        "198.19.{}.{}",
                        self.rng.range(0, 255),
                        self.rng.range(1, 254)
                    );
                    (self.estate_user().1, ip, format!("vpn-{}", ESTATE_SITES[s]))
                };
                let kind = match self.rng.below(100) {
                    0..35 => 0,
                    35..70 => 1,
                    70..92 => 2,
                    _ => 3,
                };
                self.vpn(t, &gateway, &user, &ip, kind)
            }
            _ => {
                let host = self.lnx_host();
                let user = *self.rng.pick(&SERVICE_ACCOUNTS);
                let cmd = *self.rng.pick(&COMMANDS);
                let msg = format!(
                    "  {user} : TTY=pts/{} ; PWD=/home/{user} ; USER=root ; COMMAND={cmd}",
                    self.rng.below(8)
                );
                format!("<85>{} {host} sudo:{msg}", bsd_time(t))
            }
        }
    }

    fn background(&mut self, t: i64) -> String {
        let known = t >= self.t0 + 10_000 && self.rng.chance(self.known_share);
        if known {
            self.mix.known += 1;
        }
        match self.rng.below(100) {
            0..40 => {
                self.mix.ssh += 1;
                self.ssh(t, known)
            }
            40..65 => {
                self.mix.windows += 1;
                self.windows(t, known)
            }
            65..90 => {
                self.mix.onvif += 1;
                self.onvif(t, known)
            }
            _ => {
                self.mix.other += 1;
                self.other(t, known)
            }
        }
    }

    /// Lines of attack scenario `kind` starting at event time `t`.
    fn scenario(&mut self, kind: usize, t: i64, k: usize, out: &mut Vec<(i64, String)>) {
        const S: i64 = 1000;
        match kind {
            // Forced server-room door, motion, USB stick and root console login two minutes later.
            0 => {
                out.push((
                    t,
                    self.door(t, "ctl-edi-01", "EDI-D-SRV", "DoorAlarm", "DoorForcedOpen"),
                ));
                out.push((
                    t,
                    self.door(t, "ctl-edi-01", "EDI-D-SRV", "DoorPhysicalState", "Open"),
                ));
                out.push((
                    t + 4 * S,
                    self.camera(t + 4 * S, "cam-edi-srv", "MotionAlarm", true),
                ));
                out.push((
                    t + 92 * S,
                    self.door(
                        t + 92 * S,
                        "ctl-edi-01",
                        "EDI-D-SRV",
                        "DoorPhysicalState",
                        "Closed",
                    ),
                ));
                out.push((
                    t + 93 * S,
                    self.door(t + 93 * S, "ctl-edi-01", "EDI-D-SRV", "DoorAlarm", "Normal"),
                ));
                out.push((t + 100 * S, self.usb(t + 100 * S, "srv-edi-fs1", 0)));
                out.push((t + 101 * S, self.usb(t + 101 * S, "srv-edi-fs1", 1)));
                out.push((
                    t + 120 * S,
                    format!(
                        "<37>1 {} srv-edi-fs1 login 2231 - - ROOT LOGIN ON tty1",
                        rfc3339(t + 120 * S)
                    ),
                ));
            }
            // A terminated person's badge, then their account over SSH.
            1 => {
                out.push((
                    t,
                    self.access(
                        t,
                        "ctl-edi-01",
                        "RDR-EDI-01",
                        "0x7A1004",
                        "Callum Reid",
                        "in",
                        Some("CredentialNotActive"),
                    ),
                ));
                let port = self.port();
                let line = self.syslog(
                    38,
                    t + 30 * S,
                    "srv-edi-fs1",
                    "sshd",
                    &format!("Failed password for creid from 198.51.100.77 port {port} ssh2"),
                );
                out.push((t + 30 * S, line));
            }
            // Brute force against a server in Edinburgh, then a login from that address.
            2 => {
                let ip = format!("203.0.113.{}", 10 + k % 200);
                for i in 0..12 {
                    let port = self.port();
                    let line = self.syslog(
                        38,
                        t + i * 4 * S,
                        "srv-edi-build",
                        "sshd",
                        &format!("Failed password for root from {ip} port {port} ssh2"),
                    );
                    out.push((t + i * 4 * S, line));
                }
                let port = self.port();
                let line = self.syslog(
                    86,
                    t + 60 * S,
                    "srv-edi-build",
                    "sshd",
                    &format!("Accepted password for rmacleod from {ip} port {port} ssh2"),
                );
                out.push((t + 60 * S, line));
            }
            // Unknown cards tried at the lab door, then a grant there.
            3 => {
                let card = format!("0x99{:04X}", k % 0xFFFF);
                for i in 0..4 {
                    out.push((
                        t + i * 6 * S,
                        self.access(
                            t + i * 6 * S,
                            "ctl-mtl-01",
                            "RDR-MTL-07",
                            &card,
                            "",
                            "in",
                            Some("CredentialNotFound"),
                        ),
                    ));
                }
                out.push((
                    t + 30 * S,
                    self.access(
                        t + 30 * S,
                        "ctl-mtl-01",
                        "RDR-MTL-07",
                        "0x7A2004",
                        "Lucas Bergeron",
                        "in",
                        None,
                    ),
                ));
            }
            // Someone on leave: VPN login with the account, badge at the Montréal entrance.
            4 => {
                out.push((t, self.vpn(t, "vpn-edi", "mgagnon", "198.51.100.23", 0)));
                out.push((
                    t + 45 * S,
                    self.access(
                        t + 45 * S,
                        "ctl-mtl-01",
                        "RDR-MTL-01",
                        "0x7A2003",
                        "Marc-André Gagnon",
                        "in",
                        None,
                    ),
                ));
            }
            // Lab camera blinded while the lab server is brute forced.
            5 => {
                out.push((
                    t,
                    self.camera(t, "cam-mtl-lab", "ImageTooDark/ImagingService", true),
                ));
                let ip = format!("198.51.100.{}", 100 + k % 100);
                for i in 0..11 {
                    let port = self.port();
                    let line = self.syslog(
                        38,
                        t + (20 + i * 3) * S,
                        "srv-mtl-lims",
                        "sshd",
                        &format!("Failed password for admin from {ip} port {port} ssh2"),
                    );
                    out.push((t + (20 + i * 3) * S, line));
                }
                out.push((
                    t + 90 * S,
                    self.camera(
                        t + 90 * S,
                        "cam-mtl-lab",
                        "ImageTooDark/ImagingService",
                        false,
                    ),
                ));
            }
            // Brute force burst against a bastion of the estate.
            _ => {
                let ip = self.scanner_ip();
                for i in 0..15 {
                    let port = self.port();
                    let line = self.syslog(
                        38,
                        t + i * 3 * S,
                        "bastion-gla-1",
                        "sshd",
                        &format!("Failed password for root from {ip} port {port} ssh2"),
                    );
                    out.push((t + i * 3 * S, line));
                }
            }
        }
    }
}

/// The generated lines, one buffer, each line ending with `\n`.
struct Input {
    buf: Vec<u8>,
    /// Start offset of every line, plus `buf.len()` at the end.
    starts: Vec<usize>,
    mix: Mix,
    span_ms: i64,
}

impl Input {
    fn len(&self) -> usize {
        self.starts.len() - 1
    }
    /// Lines `from..to` as one body.
    fn body(&self, from: usize, to: usize) -> &[u8] {
        &self.buf[self.starts[from]..self.starts[to.min(self.len())]]
    }
    /// Batches of `size` lines over the first `count` lines.
    fn batches(&self, size: usize, count: usize) -> Vec<(usize, usize)> {
        let count = count.min(self.len());
        (0..count.div_ceil(size))
            .map(|i| (i * size, ((i + 1) * size).min(count)))
            .collect()
    }
}

const T0_MS: i64 = 1_776_326_400_000; // 2026-04-16T08:00:00Z, a Thursday

fn generate(args: &Args, count: usize) -> Input {
    let mut g = Gen {
        rng: Rng(args.seed),
        t0: T0_MS,
        known_share: args.known_share,
        record_id: 7_000_000,
        mix: Mix::default(),
    };
    let at = |i: usize| T0_MS + (i as f64 * args.step_ms) as i64;
    // Scenario lines first (their times are known), merged into the background by time.
    let mut injected: Vec<(i64, String)> = Vec::new();
    for (i, p) in PEOPLE.iter().enumerate() {
        let (ctl, reader) = if p.edi {
            ("ctl-edi-01", "RDR-EDI-01")
        } else {
            ("ctl-mtl-01", "RDR-MTL-01")
        };
        let t = T0_MS + 1000 + i as i64 * 1000;
        injected.push((t, g.access(t, ctl, reader, p.badge, p.name, "in", None)));
    }
    if args.attack_every > 0 {
        let mut k = 0;
        loop {
            let start = at(args.attack_every * k + args.attack_every / 2);
            if start >= at(count) {
                break;
            }
            g.scenario(k % 7, start, k, &mut injected);
            k += 1;
        }
    }
    injected.sort_by_key(|(t, _)| *t);
    let injected_count = injected.len().min(count);
    g.mix.attack = injected_count;
    let mut injected = injected.into_iter().take(injected_count).peekable();
    let background = count - injected_count;
    let mut buf = Vec::with_capacity(count * 400);
    let mut starts = Vec::with_capacity(count + 1);
    let mut push = |buf: &mut Vec<u8>, line: &str| {
        starts.push(buf.len());
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
    };
    for i in 0..background {
        // Stretch the background over the whole span so that the event time per line holds.
        let t = at((i as f64 * count as f64 / background.max(1) as f64) as usize);
        while let Some((_, line)) = injected.next_if(|(ti, _)| *ti <= t) {
            push(&mut buf, &line);
        }
        let line = g.background(t);
        push(&mut buf, &line);
    }
    for (_, line) in injected {
        push(&mut buf, &line);
    }
    starts.push(buf.len());
    Input {
        buf,
        starts,
        mix: g.mix,
        span_ms: at(count) - T0_MS,
    }
}

// ---------------------------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------------------------

fn northwind() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/northwind")
}

fn decode_context() -> DecodeContext {
    let mut ctx = DecodeContext::new("bench", onesec_pipeline::now_ms());
    ctx.syslog.year = Some(2026);
    ctx
}

fn pipeline_config(args: &Args, data: &Path) -> Config {
    let mut config = Config {
        data_dir: data.to_path_buf(),
        directory: Some(northwind()),
        ..Config::default()
    };
    config.journal.fsync = args.fsync.clone();
    config.audit.enabled = !args.no_audit;
    config.syslog.year = Some(2026);
    if let Some(url) = &args.store_url {
        config.store.backend = "postgres".into();
        config.store.url = url.clone();
        config.store.schema = Some(args.store_schema.clone());
    }
    config
}

fn temp_dir(args: &Args) -> tempfile::TempDir {
    match &args.data_parent {
        Some(parent) => tempfile::tempdir_in(parent),
        None => tempfile::tempdir(),
    }
    .expect("temporary data folder")
}

fn proc_status(key: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets the peak RSS (VmHWM) of this process; false when the kernel refuses.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn mib_kb(kb: u64) -> String {
    format!("{:.0} MiB", kb as f64 / 1024.0)
}

/// CPU ticks (1/100 s) used so far by each thread of this process, by thread id.
fn thread_cpu() -> HashMap<u64, (String, u64)> {
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for entry in dir.flatten() {
        let Ok(tid) = entry.file_name().to_string_lossy().parse::<u64>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_string();
        let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ticks = rest
            .get(11)
            .and_then(|u| u.parse::<u64>().ok())
            .unwrap_or(0)
            + rest
                .get(12)
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0);
        out.insert(tid, (name, ticks));
    }
    out
}

/// CPU seconds per thread name between two snapshots.
fn cpu_by_name(
    before: &HashMap<u64, (String, u64)>,
    after: &HashMap<u64, (String, u64)>,
) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (tid, (name, ticks)) in after {
        let base = before.get(tid).map_or(0, |(_, t)| *t);
        let name = match name.as_str() {
            n if n.starts_with("tokio") => "tokio workers (decode, resolve, encode)".to_string(),
            "onesec-detect" => "onesec-detect (read, parse, Sigma, group, store)".to_string(),
            n if n.starts_with("onesec-journal") => "journal writer (write, fsync)".to_string(),
            _ => "other (main, poller)".to_string(),
        };
        *out.entry(name).or_insert(0.0) += ticks.saturating_sub(base) as f64 / 100.0;
    }
    out
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    if values.is_empty() {
        0.0
    } else {
        values[values.len() / 2]
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Single-threaded cost of each stage over the same lines.
struct Components {
    events: usize,
    /// (stage, seconds)
    stages: Vec<(&'static str, f64)>,
    sigma_outputs: usize,
    decode_errors: usize,
    /// Events read back from the store (bodies from the journal) and compared with the events
    /// detection saw, and how many differed.
    read_back_checked: usize,
    read_back_mismatched: usize,
    /// Engine counters at the end of the pass (correlation state held).
    engine: onesec_sigma::EngineStats,
}

fn components(args: &Args, input: &Input) -> Components {
    let directory = Directory::load_dir(northwind()).expect("northwind directory");
    let (rules, report) = load_rules(&RulesConfig::default()).expect("built-in rules");
    assert!(
        report.rejected.is_empty(),
        "rules refused: {:?}",
        report.rejected
    );
    let mut engine = Engine::new(rules, EngineConfig::default());
    let tmp = temp_dir(args);
    let mut store = SqliteStore::open(&tmp.path().join("components.db")).expect("store");
    let ctx = decode_context();
    let count = args
        .component_events
        .unwrap_or(args.events)
        .min(input.len());
    // The journal (fsync never: the write cost without the disk's) beside the store, so the
    // store keeps positions of journal records as the pipeline's detector does.
    let journal_config = onesec_journal::JournalConfig::new(tmp.path().join("journal"))
        .fsync(onesec_journal::FsyncPolicy::Never);
    let (journal, _) = onesec_journal::Journal::open(journal_config).expect("journal");
    let mut reader = journal.reader(1).expect("journal reader");
    let mut t = [Duration::ZERO; 8];
    // A fixed key: the cost does not depend on which key, and runs stay comparable.
    let key_bytes: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(97).wrapping_add(13));
    let pseudonyms = args.pseudonymise.then(|| {
        let key = onesec_directory::PseudonymKey::from_bytes(key_bytes, "bench").expect("key");
        onesec_directory::Pseudonyms::new(&key)
    });
    let shared = Arc::new(Directory::load_dir(northwind()).expect("northwind directory"));
    let mut hmacs = 0usize;
    let mut pending: Vec<Event> = Vec::with_capacity(4096);
    let mut pending_at: Vec<onesec_journal::Position> = Vec::with_capacity(4096);
    let (mut seq, mut outputs, mut errors, mut events) = (0u64, 0usize, 0usize, 0usize);
    // One event in 64, kept to compare with what the store reads back at the end.
    let mut sampled: Vec<Event> = Vec::new();
    let commit = |store: &mut SqliteStore,
                  pending: &mut Vec<Event>,
                  at: &mut Vec<onesec_journal::Position>,
                  seq: u64,
                  t: &mut [Duration; 8]| {
        let batch = DetectionBatch {
            events: std::mem::take(pending),
            journal_positions: std::mem::take(at),
            detected_upto: seq,
            ..DetectionBatch::default()
        };
        let start = Instant::now();
        store.commit(&batch).expect("commit");
        t[6] += start.elapsed();
    };
    for (from, to) in input.batches(1000, count) {
        let body = input.body(from, to);
        let start = Instant::now();
        let decoded = decode_bytes(&Format::Auto, body, &ctx);
        t[0] += start.elapsed();
        errors += decoded.errors.len();
        let mut batch = decoded.events;
        events += batch.len();
        let start = Instant::now();
        for event in &mut batch {
            event.received_ms = ctx.received_ms;
            directory.resolve(event);
        }
        t[1] += start.elapsed();
        if let Some(pseudonyms) = &pseudonyms {
            // One HMAC per actor identifier (account, badge, holder name); a resolved person's
            // pseudonyms come from the table built at directory load.
            hmacs += batch
                .iter()
                .map(|e| {
                    usize::from(e.actor.user.is_some())
                        + usize::from(e.actor.badge.is_some())
                        + usize::from(e.actor.holder_name.is_some())
                })
                .sum::<usize>();
            let start = Instant::now();
            let table = pseudonyms.table(&shared);
            for event in &mut batch {
                table.pseudonymise(event);
            }
            t[7] += start.elapsed();
        }
        let start = Instant::now();
        let payloads: Vec<Vec<u8>> = batch
            .iter()
            .map(|e| serde_json::to_vec(e).unwrap_or_default())
            .collect();
        t[2] += start.elapsed();
        drop(batch);
        let start = Instant::now();
        journal.append_batch(payloads).expect("journal append");
        t[3] += start.elapsed();
        let start = Instant::now();
        let mut parsed: Vec<(Event, onesec_journal::Position)> = Vec::new();
        while let Some((record, payload, at)) = reader.try_next_located().expect("journal read") {
            if let Ok(mut event) = serde_json::from_slice::<Event>(&payload) {
                seq = record;
                event.id = record;
                parsed.push((event, at));
            }
        }
        t[4] += start.elapsed();
        let start = Instant::now();
        for (event, _) in &parsed {
            outputs += engine.process(event.id, &EventRecord(event)).len();
        }
        t[5] += start.elapsed();
        sampled.extend(parsed.iter().step_by(64).map(|(e, _)| e.clone()));
        for (event, at) in parsed {
            pending.push(event);
            pending_at.push(at);
        }
        if pending.len() >= 4096 {
            commit(&mut store, &mut pending, &mut pending_at, seq, &mut t);
        }
    }
    if !pending.is_empty() {
        commit(&mut store, &mut pending, &mut pending_at, seq, &mut t);
    }
    // Untimed: the store gives back, from the journal, the events detection saw.
    let ids: Vec<u64> = sampled.iter().map(|e| e.id).collect();
    let back: HashMap<u64, Event> = store
        .events_by_ids(&ids)
        .expect("read events back")
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    let mismatched = sampled
        .iter()
        .filter(|e| back.get(&e.id) != Some(*e))
        .count();
    let names = [
        "decode (Format::Auto)",
        "resolve (directory)",
        "encode event JSON (journal payload)",
        "journal append (fsync never)",
        "read journal + parse event JSON (detector, when not handed over)",
        "Sigma engine only (built-in rules)",
        "store events in SQLite (4096 per tx: index + journal positions)",
        "pseudonymise (--pseudonymise: HMACs + free-text scrub)",
    ];
    if args.pseudonymise {
        eprintln!(
            "pseudonymise: {hmacs} HMACs for {events} events ({:.2} per event)",
            hmacs as f64 / events.max(1) as f64
        );
    }
    Components {
        events,
        stages: names
            .iter()
            .zip(t.iter())
            .map(|(n, d)| (*n, d.as_secs_f64()))
            .collect(),
        sigma_outputs: outputs,
        decode_errors: errors,
        read_back_checked: sampled.len(),
        read_back_mismatched: mismatched,
        engine: engine.stats(),
    }
}

#[derive(Default, Clone)]
struct Outcome {
    stored_events: u64,
    dead_letters: u64,
    alerts_by_rule: BTreeMap<String, usize>,
    incidents_by_domain: BTreeMap<String, usize>,
    alerts: usize,
    incidents: usize,
}

fn outcome(pipeline: &Pipeline) -> Outcome {
    let mut out = Outcome::default();
    let result = pipeline.read_store(|s| {
        out.stored_events = s.event_count()?;
        out.dead_letters = s.dead_letter_count()?;
        for alert in s.alerts(None, 10_000_000)? {
            if alert.status == onesec_incident::AlertStatus::Active {
                out.alerts += 1;
                *out.alerts_by_rule.entry(alert.title.clone()).or_insert(0) += 1;
            }
        }
        let filter = IncidentFilter {
            limit: Some(10_000_000),
            ..IncidentFilter::default()
        };
        for incident in s.incidents(&filter)? {
            out.incidents += 1;
            *out.incidents_by_domain
                .entry(format!(
                    "{} / {}",
                    incident.domain.as_str(),
                    incident.priority.as_str()
                ))
                .or_insert(0) += 1;
        }
        Ok(())
    });
    if let Err(error) = result {
        eprintln!("reading the store failed: {error}");
    }
    out
}

struct Throughput {
    events: usize,
    ingest_s: f64,
    end_to_end_s: f64,
    lag_at_ingest_end: u64,
    cpu: BTreeMap<String, f64>,
    peak_rss_kb: Option<u64>,
    outcome: Outcome,
    refused: usize,
}

fn throughput(args: &Args, input: &Arc<Input>, runtime: &tokio::runtime::Runtime) -> Throughput {
    let tmp = temp_dir(args);
    let pipeline =
        Arc::new(Pipeline::start(pipeline_config(args, tmp.path())).expect("pipeline starts"));
    let batches = Arc::new(input.batches(args.batch, args.events));
    let next = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let reset = reset_peak_rss();
    let cpu_before = thread_cpu();
    let start = Instant::now();
    runtime.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..args.tasks.max(1) {
            let (input, batches, next, refused) = (
                input.clone(),
                batches.clone(),
                next.clone(),
                refused.clone(),
            );
            let ingestor = pipeline.ingestor().clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(from, to)) = batches.get(i) else {
                        break;
                    };
                    let report = ingestor
                        .ingest_body(&Format::Auto, input.body(from, to), "bench")
                        .await;
                    refused.fetch_add(report.errors.len(), Ordering::Relaxed);
                    assert!(
                        report.journal_error.is_none(),
                        "journal error: {:?}",
                        report.journal_error
                    );
                }
            }));
        }
        for task in tasks {
            task.await.expect("sender task");
        }
    });
    let ingest_s = start.elapsed().as_secs_f64();
    let status = pipeline.status();
    let lag = status.journal_seq - status.detected_seq.min(status.journal_seq);
    let give_up = Instant::now() + Duration::from_secs(1800);
    while pipeline.status().detected_seq < status.journal_seq {
        assert!(
            Instant::now() < give_up,
            "detection did not catch up within 30 minutes"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let end_to_end_s = start.elapsed().as_secs_f64();
    let cpu = cpu_by_name(&cpu_before, &thread_cpu());
    let peak_rss_kb = if reset { proc_status("VmHWM:") } else { None };
    let outcome = outcome(&pipeline);
    if let Some(line) = pipeline
        .metrics_text()
        .lines()
        .find(|l| l.starts_with("onesec_events_reparsed_total "))
    {
        eprintln!("{line} (of {} events)", outcome.stored_events);
    }
    pipeline.shutdown();
    drop(pipeline);
    Throughput {
        events: status.journal_seq as usize,
        ingest_s,
        end_to_end_s,
        lag_at_ingest_end: lag,
        cpu,
        peak_rss_kb,
        outcome,
        refused: refused.load(Ordering::Relaxed),
    }
}

struct Latency {
    achieved: f64,
    counted: usize,
    detect_ms: Vec<f64>,
    ack_ms: Vec<f64>,
    /// Detected − the time the pacer meant to send the batch (includes sender-side delays).
    scheduled_ms: Vec<f64>,
    peak_rss_kb: Option<u64>,
    cpu: BTreeMap<String, f64>,
    wall_s: f64,
}

struct Sent {
    index: usize,
    last_id: u64,
    /// When the pacer meant to send it.
    scheduled: Instant,
    called: Instant,
    acked: Instant,
}

fn latency(args: &Args, input: &Arc<Input>, runtime: &tokio::runtime::Runtime) -> Latency {
    let tmp = temp_dir(args);
    let pipeline =
        Arc::new(Pipeline::start(pipeline_config(args, tmp.path())).expect("pipeline starts"));
    let total = (args.rate * args.latency_secs) as usize;
    let batches = Arc::new(input.batches(args.latency_batch, total));
    let interval = Duration::from_secs_f64(args.latency_batch as f64 / args.rate as f64);
    let (tx, rx) = std::sync::mpsc::channel::<Sent>();
    let n = batches.len();
    // The poller: records when detection passes each batch's last id.
    let poller = {
        let pipeline = pipeline.clone();
        let poll = Duration::from_micros(args.poll_us);
        std::thread::Builder::new()
            .name("bench-poller".into())
            .spawn(move || {
                let mut pending: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
                let mut sent_at: Vec<Option<Sent>> = (0..n).map(|_| None).collect();
                let mut detected = vec![None::<Instant>; n];
                let (mut done, mut progress) = (0, Instant::now());
                while done < n {
                    while let Ok(sent) = rx.try_recv() {
                        pending.push(Reverse((sent.last_id, sent.index)));
                        let index = sent.index;
                        sent_at[index] = Some(sent);
                    }
                    let seq = pipeline.status().detected_seq;
                    let now = Instant::now();
                    while let Some(Reverse((last, index))) = pending.peek().copied() {
                        if last > seq {
                            break;
                        }
                        pending.pop();
                        detected[index] = Some(now);
                        done += 1;
                        progress = now;
                    }
                    if now.duration_since(progress) > Duration::from_secs(300) {
                        eprintln!("no detection progress for 5 minutes; giving up");
                        break;
                    }
                    std::thread::sleep(poll);
                }
                (sent_at, detected)
            })
            .expect("poller thread")
    };
    let reset = reset_peak_rss();
    let cpu_before = thread_cpu();
    let started = Instant::now();
    let (first_call, last_call) = runtime.block_on(async {
        let begin = tokio::time::Instant::now() + Duration::from_millis(20);
        let mut tasks = Vec::with_capacity(n);
        let first = Instant::now();
        for (index, &(from, to)) in batches.iter().enumerate() {
            let scheduled = begin + interval * index as u32;
            tokio::time::sleep_until(scheduled).await;
            let scheduled = scheduled.into_std();
            let (input, tx) = (input.clone(), tx.clone());
            let ingestor = pipeline.ingestor().clone();
            tasks.push(tokio::spawn(async move {
                let called = Instant::now();
                let report = ingestor
                    .ingest_body(&Format::Auto, input.body(from, to), "bench")
                    .await;
                let acked = Instant::now();
                let last_id = report.last_id.expect("batch journaled");
                let _ = tx.send(Sent {
                    index,
                    last_id,
                    scheduled,
                    called,
                    acked,
                });
            }));
        }
        let last = Instant::now();
        for task in tasks {
            task.await.expect("sender task");
        }
        (first, last)
    });
    drop(tx);
    let (sent, detected) = poller.join().expect("poller");
    let wall_s = started.elapsed().as_secs_f64();
    let cpu = cpu_by_name(&cpu_before, &thread_cpu());
    let peak_rss_kb = if reset { proc_status("VmHWM:") } else { None };
    pipeline.shutdown();
    let warmup = Duration::from_secs(args.warmup_secs);
    let (mut detect_ms, mut ack_ms, mut scheduled_ms) = (Vec::new(), Vec::new(), Vec::new());
    let ms = |later: Instant, earlier: Instant| {
        later.saturating_duration_since(earlier).as_secs_f64() * 1000.0
    };
    for (i, (sent, detected)) in sent.iter().zip(&detected).enumerate() {
        let (Some(s), Some(d)) = (sent, detected) else {
            continue;
        };
        if interval * (i as u32) < warmup {
            continue;
        }
        detect_ms.push(ms(*d, s.called));
        ack_ms.push(ms(s.acked, s.called));
        scheduled_ms.push(ms(*d, s.scheduled));
    }
    detect_ms.sort_by(f64::total_cmp);
    ack_ms.sort_by(f64::total_cmp);
    scheduled_ms.sort_by(f64::total_cmp);
    let send_s = last_call.duration_since(first_call).as_secs_f64().max(1e-9);
    Latency {
        achieved: total as f64 / send_s,
        counted: detect_ms.len(),
        detect_ms,
        ack_ms,
        scheduled_ms,
        peak_rss_kb,
        cpu,
        wall_s,
    }
}

fn rate(events: usize, seconds: f64) -> String {
    format!("{:.0}", events as f64 / seconds)
}

/// CPU model, cores, memory and kernel, from /proc.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown CPU", str::trim)
        .to_string();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_kb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cores} × {model}, {:.1} GiB RAM, Linux {}",
        mem_kb as f64 / 1048576.0,
        kernel.trim()
    )
}

fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut s = "cargo run --release -p onesec-pipeline --example pipeline_bench --".to_string();
    for a in args {
        s.push(' ');
        s.push_str(&a);
    }
    s
}

fn main() {
    let args = Args::parse();
    if args.encrypt {
        let key = onesec_keys::generate_key_hex().expect("random key");
        let ring = onesec_keys::KeyRing::parse(&key, "bench key").expect("bench key");
        eprintln!("encryption at rest on (key {})", ring.current_id());
        onesec_keys::install(Some(Arc::new(ring)));
    }
    let mut report = String::new();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!("load average at start: {}", load.trim());
    let latency_lines = (args.rate * args.latency_secs) as usize;
    let count = match args.mode {
        Mode::Latency => latency_lines,
        Mode::All => args.events.max(latency_lines),
        _ => args.events,
    }
    .max(args.component_events.unwrap_or(0));
    let started = Instant::now();
    let input = Arc::new(generate(&args, count));
    let mix = &input.mix;
    eprintln!(
        "generated {} lines ({} MiB) in {:.1} s",
        input.len(),
        input.buf.len() >> 20,
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = &args.dump {
        std::fs::write(path, &input.buf).expect("dump");
    }
    let pct = |n: usize| 100.0 * n as f64 / input.len() as f64;
    let _ = writeln!(report, "## onesec pipeline benchmark\n");
    let _ = writeln!(report, "Command: `{}`\n", command_line());
    let _ = writeln!(report, "Machine: {}\n", machine());
    let _ = writeln!(report, "Load average at start: `{}`\n", load.trim());
    let _ = writeln!(
        report,
        "Input: {} lines, {:.0} bytes/line on average, {:.1} min of event time ({} ms per line); \
         sshd {:.1} %, Windows {:.1} %, ONVIF access {:.1} %, other {:.1} %, attack-scenario lines {}; \
         {:.1} % of background lines about directory people/doors/servers; fsync `{}`.\n",
        input.len(),
        input.buf.len() as f64 / input.len() as f64,
        input.span_ms as f64 / 60_000.0,
        args.step_ms,
        pct(mix.ssh),
        pct(mix.windows),
        pct(mix.onvif),
        pct(mix.other),
        mix.attack,
        pct(mix.known),
        args.fsync,
    );
    let input_rss = proc_status("VmRSS:").unwrap_or(0);

    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if args.workers > 0 {
        runtime.worker_threads(args.workers);
    }
    let runtime = runtime.build().expect("tokio runtime");

    if matches!(args.mode, Mode::All | Mode::Components) {
        eprintln!("components pass...");
        let c = components(&args, &input);
        let _ = writeln!(
            report,
            "### Stages in isolation (one thread, {} events)\n",
            c.events
        );
        let _ = writeln!(
            report,
            "| stage | µs/event | events/s (one core) |\n|---|---:|---:|"
        );
        let mut ingest = 0.0;
        let mut detect = 0.0;
        for (i, (name, secs)) in c.stages.iter().enumerate() {
            let _ = writeln!(
                report,
                "| {name} | {:.2} | {} |",
                secs * 1e6 / c.events as f64,
                rate(c.events, *secs)
            );
            if i < 4 {
                ingest += secs
            } else {
                detect += secs
            }
        }
        let _ = writeln!(
            report,
            "| **ingest CPU path** (decode+resolve+encode+journal) | {:.2} | {} |",
            ingest * 1e6 / c.events as f64,
            rate(c.events, ingest)
        );
        let _ = writeln!(
            report,
            "| **detector CPU path** (parse+Sigma+store, one thread in the pipeline) | {:.2} | {} |\n",
            detect * 1e6 / c.events as f64,
            rate(c.events, detect)
        );
        let _ = writeln!(
            report,
            "Sigma outputs in the components pass: {}; decode errors: {}; events read back from \
             the store (bodies from the journal) identical to what detection saw for {} of {} \
             sampled events.\n",
            c.sigma_outputs,
            c.decode_errors,
            c.read_back_checked - c.read_back_mismatched,
            c.read_back_checked
        );
        let e = &c.engine;
        let _ = writeln!(
            report,
            "Sigma engine state at the end: {} correlation groups holding {} entries; \
             {} groups and {} entries evicted by the limits; {} inputs beyond the allowed lateness.\n",
            e.open_groups, e.buffered_entries, e.groups_evicted, e.buffer_evicted, e.late_dropped
        );
    }

    let runs = args.runs.max(1);
    let mut peak_kb = proc_status("VmHWM:").unwrap_or(0);
    if matches!(args.mode, Mode::All | Mode::Throughput) {
        let mut results = Vec::new();
        for run in 0..runs {
            eprintln!("throughput run {}/{runs}...", run + 1);
            let r = throughput(&args, &input, &runtime);
            eprintln!(
                "  end-to-end {} ev/s, ingest {} ev/s, detection lag at end of ingest {}",
                rate(r.events, r.end_to_end_s),
                rate(r.events, r.ingest_s),
                r.lag_at_ingest_end
            );
            peak_kb = peak_kb.max(r.peak_rss_kb.unwrap_or(0));
            results.push(r);
        }
        let _ = writeln!(
            report,
            "### Throughput ({} events, batches of {}, {} sending tasks, fsync `{}`)\n",
            args.events, args.batch, args.tasks, args.fsync
        );
        let _ = writeln!(
            report,
            "| run | end-to-end events/s | ingest-only events/s (acknowledged) | wall s | detection backlog when ingest ended | peak RSS |\n|---|---:|---:|---:|---:|---:|"
        );
        for (i, r) in results.iter().enumerate() {
            let _ = writeln!(
                report,
                "| {} | {} | {} | {:.2} | {} | {} |",
                i + 1,
                rate(r.events, r.end_to_end_s),
                rate(r.events, r.ingest_s),
                r.end_to_end_s,
                r.lag_at_ingest_end,
                r.peak_rss_kb.map_or("n/a".into(), mib_kb)
            );
        }
        let mut e2e: Vec<f64> = results
            .iter()
            .map(|r| r.events as f64 / r.end_to_end_s)
            .collect();
        let mut ing: Vec<f64> = results
            .iter()
            .map(|r| r.events as f64 / r.ingest_s)
            .collect();
        let _ = writeln!(
            report,
            "| **median** | **{:.0}** | **{:.0}** | | | |\n",
            median(&mut e2e),
            median(&mut ing)
        );
        if let Some(last) = results.last() {
            write_cpu_table(&mut report, &last.cpu, last.end_to_end_s);
            let o = &last.outcome;
            let _ = writeln!(
                report,
                "\nLast run: {} events stored, {} refused at decode, {} dead letters; {} active alerts, {} incidents open.\n",
                o.stored_events, last.refused, o.dead_letters, o.alerts, o.incidents
            );
            let _ = writeln!(report, "| alert (active) | count |\n|---|---:|");
            for (rule, n) in &o.alerts_by_rule {
                let _ = writeln!(report, "| {rule} | {n} |");
            }
            let _ = writeln!(
                report,
                "\n| incidents (domain / priority) | count |\n|---|---:|"
            );
            for (k, n) in &o.incidents_by_domain {
                let _ = writeln!(report, "| {k} | {n} |");
            }
            let _ = writeln!(report);
        }
    }

    if matches!(args.mode, Mode::All | Mode::Latency) {
        let mut results = Vec::new();
        for run in 0..runs {
            eprintln!("latency run {}/{runs}...", run + 1);
            let r = latency(&args, &input, &runtime);
            eprintln!(
                "  p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (achieved {:.0} ev/s)",
                percentile(&r.detect_ms, 50.0),
                percentile(&r.detect_ms, 99.0),
                percentile(&r.detect_ms, 100.0),
                r.achieved
            );
            peak_kb = peak_kb.max(r.peak_rss_kb.unwrap_or(0));
            results.push(r);
        }
        let _ = writeln!(
            report,
            "### Latency at {} events/s offered ({} lines every {:.1} ms for {} s; first {} s not counted; fsync `{}`)\n",
            args.rate,
            args.latency_batch,
            1000.0 * args.latency_batch as f64 / args.rate as f64,
            args.latency_secs,
            args.warmup_secs,
            args.fsync
        );
        let _ = writeln!(
            report,
            "Receipt → detected: from just before `ingest_body` to `status().detected_seq >= last_id` of the batch \
             (polled every {} µs). Detected = the batch's events went through the Sigma engine and the grouper and were \
             committed to the SQLite store with any alerts. Ack = `ingest_body` returned (journaled, per the fsync policy). \
             \"From schedule\" counts from the time the pacer meant to send the batch, so it also shows sender-side delays \
             when the machine is saturated.\n",
            args.poll_us
        );
        let _ = writeln!(
            report,
            "| run | achieved events/s | batches | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | ack p50 ms | ack p99 ms | p99 from schedule ms | peak RSS |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        let mut cols: Vec<Vec<f64>> = vec![Vec::new(); 9];
        for (i, r) in results.iter().enumerate() {
            let v = [
                r.achieved,
                percentile(&r.detect_ms, 50.0),
                percentile(&r.detect_ms, 90.0),
                percentile(&r.detect_ms, 99.0),
                percentile(&r.detect_ms, 99.9),
                percentile(&r.detect_ms, 100.0),
                percentile(&r.ack_ms, 50.0),
                percentile(&r.ack_ms, 99.0),
                percentile(&r.scheduled_ms, 99.0),
            ];
            for (c, x) in cols.iter_mut().zip(v) {
                c.push(x);
            }
            let _ = writeln!(
                report,
                "| {} | {:.0} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
                i + 1,
                v[0],
                r.counted,
                v[1],
                v[2],
                v[3],
                v[4],
                v[5],
                v[6],
                v[7],
                v[8],
                r.peak_rss_kb.map_or("n/a".into(), mib_kb)
            );
        }
        let m: Vec<f64> = cols.iter_mut().map(|c| median(c)).collect();
        let _ = writeln!(
            report,
            "| **median** | **{:.0}** | | **{:.1}** | **{:.1}** | **{:.1}** | **{:.1}** | **{:.1}** | **{:.1}** | **{:.1}** | **{:.1}** | |\n",
            m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8]
        );
        if let Some(last) = results.last() {
            write_cpu_table(&mut report, &last.cpu, last.wall_s);
            let _ = writeln!(report);
        }
    }

    // VmHWM is reset at the start of each timed run, so the value now is the last run's peak.
    let hwm = proc_status("VmHWM:").unwrap_or(0).max(peak_kb);
    let _ = writeln!(
        report,
        "Peak RSS (VmHWM from /proc/self/status, highest seen in this process): {}, of which {} is the generated \
         input held in memory for the whole process; each run's own peak is in its table.\n",
        mib_kb(hwm),
        mib_kb(input_rss)
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let _ = writeln!(report, "Load average at end: `{}`", load.trim());
    println!("{report}");
}

/// CPU seconds per thread of a run, and how busy each was over its wall time.
fn write_cpu_table(report: &mut String, cpu: &BTreeMap<String, f64>, wall_s: f64) {
    let _ = writeln!(
        report,
        "CPU seconds by thread (last run, {wall_s:.1} s wall):\n"
    );
    let _ = writeln!(
        report,
        "| thread | CPU s | busy % of wall |\n|---|---:|---:|"
    );
    for (name, secs) in cpu {
        let _ = writeln!(
            report,
            "| {name} | {secs:.1} | {:.0} |",
            100.0 * secs / wall_s
        );
    }
}
