//! Single-event matching: the same rules, the same events, one thread, each engine in turn.

use std::time::Instant;

use onesec_sigma::{Engine, FieldValue, Output, Record};
use rsigma_eval::JsonEvent;
use rsigma_parser::LogSource;
use serde_json::Value;

use crate::stream::logsource_of;

/// Matches counted over one pass, and how long it took.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pass {
    pub events: usize,
    pub matches: u64,
    pub secs: f64,
}

impl Pass {
    /// Events per second.
    pub fn rate(&self) -> f64 {
        self.events as f64 / self.secs
    }
}

/// An event with the log source its collector knows (onesec `Record`; rsigma gets the same
/// triple as a `LogSource`).
pub struct WithSource<'a> {
    pub value: &'a Value,
    pub product: Option<&'static str>,
    pub service: Option<&'static str>,
    pub category: Option<&'static str>,
}

impl<'a> WithSource<'a> {
    pub fn new(value: &'a Value) -> WithSource<'a> {
        let (product, service, category) = logsource_of(value);
        WithSource {
            value,
            product,
            service,
            category,
        }
    }

    pub fn rsigma(&self) -> LogSource {
        LogSource {
            product: self.product.map(str::to_string),
            service: self.service.map(str::to_string),
            category: self.category.map(str::to_string),
            ..LogSource::default()
        }
    }
}

impl Record for WithSource<'_> {
    fn field(&self, name: &str) -> Option<FieldValue<'_>> {
        self.value.field(name)
    }
    fn any_value(&self, f: &mut dyn FnMut(&str) -> bool) -> bool {
        self.value.any_value(f)
    }
    fn in_logsource(&self, key: &str, value: &str) -> bool {
        let have = match key {
            "product" => self.product,
            "service" => self.service,
            "category" => self.category,
            _ => None,
        };
        have.is_some_and(|h| h.eq_ignore_ascii_case(value))
    }
    fn time_ms(&self) -> i64 {
        0
    }
    fn logsource_token(&self) -> Option<u64> {
        // The triple is the whole log source (rsigma receives it as a `LogSource`).
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        (self.product, self.service, self.category).hash(&mut h);
        Some(h.finish())
    }
    fn for_each_field<'a>(
        &'a self,
        f: &mut dyn FnMut(&'a str, &dyn Fn() -> FieldValue<'a>),
    ) -> bool {
        self.value.for_each_field(f)
    }
}

fn fired(out: &[Output]) -> u64 {
    out.iter().filter(|o| matches!(o, Output::Fired(_))).count() as u64
}

/// onesec over pre-built JSON values (every rule applies: a bare `Value` has no log source).
pub fn onesec_values(engine: &mut Engine, events: &[Value]) -> Pass {
    let mut out = Vec::new();
    let mut matches = 0;
    let t = Instant::now();
    for (i, e) in events.iter().enumerate() {
        out.clear();
        engine.process_into(i as u64, e, &mut out);
        matches += fired(&out);
    }
    Pass {
        events: events.len(),
        matches,
        secs: t.elapsed().as_secs_f64(),
    }
}

/// rsigma over the same values.
pub fn rsigma_values(engine: &rsigma_eval::Engine, events: &[Value]) -> Pass {
    let mut matches = 0;
    let t = Instant::now();
    for e in events {
        matches += engine.evaluate(&JsonEvent::borrow(e)).len() as u64;
    }
    Pass {
        events: events.len(),
        matches,
        secs: t.elapsed().as_secs_f64(),
    }
}

/// onesec from JSON text: parse each line, then match.
pub fn onesec_json(engine: &mut Engine, lines: &[String]) -> Pass {
    let mut out = Vec::new();
    let mut matches = 0;
    let t = Instant::now();
    for (i, l) in lines.iter().enumerate() {
        let Ok(e) = serde_json::from_str::<Value>(l) else {
            continue;
        };
        out.clear();
        engine.process_into(i as u64, &e, &mut out);
        matches += fired(&out);
    }
    Pass {
        events: lines.len(),
        matches,
        secs: t.elapsed().as_secs_f64(),
    }
}

/// rsigma from JSON text: parse each line, then match.
pub fn rsigma_json(engine: &rsigma_eval::Engine, lines: &[String]) -> Pass {
    let mut matches = 0;
    let t = Instant::now();
    for l in lines {
        let Ok(e) = serde_json::from_str::<Value>(l) else {
            continue;
        };
        matches += engine.evaluate(&JsonEvent::borrow(&e)).len() as u64;
    }
    Pass {
        events: lines.len(),
        matches,
        secs: t.elapsed().as_secs_f64(),
    }
}

/// onesec with each event's log source (rules of other log sources are skipped).
pub fn onesec_sourced(engine: &mut Engine, events: &[WithSource]) -> Pass {
    let mut out = Vec::new();
    let mut matches = 0;
    let t = Instant::now();
    for (i, e) in events.iter().enumerate() {
        out.clear();
        engine.process_into(i as u64, e, &mut out);
        matches += fired(&out);
    }
    Pass {
        events: events.len(),
        matches,
        secs: t.elapsed().as_secs_f64(),
    }
}

/// rsigma `evaluate_with_logsource` with the same log source per event.
pub fn rsigma_sourced(engine: &rsigma_eval::Engine, events: &[(WithSource, LogSource)]) -> Pass {
    let mut matches = 0;
    let t = Instant::now();
    for (e, ls) in events {
        matches += engine
            .evaluate_with_logsource(&JsonEvent::borrow(e.value), ls)
            .len() as u64;
    }
    Pass {
        events: events.len(),
        matches,
        secs: t.elapsed().as_secs_f64(),
    }
}
