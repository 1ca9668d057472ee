//! Schedules: a task submitted once (`at`), every `everyMs`, or on a standard 5-field cron
//! expression (names allowed: `0 9 * * MON`), on the core's clock (ms since the Unix epoch, UTC).
//! A slot missed while a job was paused or the process was down fires once, never in a burst.

use crate::core::ids::PayloadId;
use crate::core::task::TaskSpec;
use crate::core::{Error, Result};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Trigger {
    /// ms since the Unix epoch, or an RFC 3339 time (a JS `Date` arrives as one). DESIGN.md's
    /// "once / interval / cron" are names for `at` and `everyMs` too.
    #[serde(
        default,
        alias = "once",
        deserialize_with = "at_ms",
        skip_serializing_if = "Option::is_none"
    )]
    pub at: Option<u64>,
    #[serde(
        default,
        alias = "interval",
        alias = "intervalMs",
        skip_serializing_if = "Option::is_none"
    )]
    pub every_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Active,
    Paused,
    /// A one-off job that has fired.
    Done,
    Deleted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: String,
    pub trigger: Trigger,
    pub task: TaskSpec,
    pub input: PayloadId,
    pub status: JobStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run: Option<u64>,
    pub created_at: u64,
    #[serde(default)]
    pub runs: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<u64>,
    /// The task its last slot submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_task: Option<Box<str>>,
}

pub const EVERY_MS_MIN: u64 = 1;
/// The latest `at` (ms since the epoch, 2^50: the year 37,648). Deadlines past 2^53 would not
/// survive JavaScript's numbers, and a virtual clock could never reach them.
pub const AT_MS_MAX: u64 = 1 << 50;

/// `at` as ms since the epoch, or as an RFC 3339 time (`2026-11-22T09:00:00Z`).
fn at_ms<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<u64>, D::Error> {
    use crate::core::json_path::{checked, Scalar};
    const EXPECTING: &str = "ms since the epoch, or an RFC 3339 time";
    checked(d, EXPECTING, |v| match v {
        Scalar::Null => Ok(None),
        Scalar::U64(ms) => Ok(Some(ms)),
        Scalar::I64(ms) => Err(format!("at: {ms} is before 1970 ({EXPECTING})")),
        Scalar::F64(ms) => Err(format!(
            "at: {ms} is not a whole number of ms since the epoch"
        )),
        Scalar::Str(t) => {
            let time = chrono::DateTime::parse_from_rfc3339(t).map_err(|e| {
                format!("at: '{t}' is neither ms since the epoch nor an RFC 3339 time ({e})")
            })?;
            u64::try_from(time.timestamp_millis())
                .map(Some)
                .map_err(|_| format!("at: '{t}' is before 1970"))
        }
        Scalar::Bool(b) => Err(format!("at: {b} is not a time ({EXPECTING})")),
    })
}

impl Trigger {
    pub fn validate(&self) -> Result<()> {
        let given = [
            self.at.is_some(),
            self.every_ms.is_some(),
            self.cron.is_some(),
        ]
        .iter()
        .filter(|g| **g)
        .count();
        if given != 1 {
            return Err(Error::invalid(
                "schedule",
                "give exactly one of at, everyMs or cron",
            ));
        }
        if self
            .every_ms
            .is_some_and(|e| e == 0 || e > crate::core::policy::DELAY_MS_MAX)
        {
            return Err(Error::invalid(
                "everyMs",
                format!(
                    "must be 1 to {} (a year)",
                    crate::core::policy::DELAY_MS_MAX
                ),
            ));
        }
        if let Some(at) = self.at.filter(|&at| at > AT_MS_MAX) {
            return Err(Error::invalid(
                "at",
                format!("{at} is past {AT_MS_MAX} ms since the epoch (2^50, the year 37,648)"),
            ));
        }
        if let Some(c) = &self.cron {
            check_standard(c)?;
            parse_cron(c)?;
        }
        Ok(())
    }

    /// The first slot strictly after `after`, counting `every_ms` slots from `anchor`.
    pub fn next_after(&self, after: u64, anchor: u64) -> Option<u64> {
        if let Some(at) = self.at {
            return (at > after).then_some(at);
        }
        if let Some(every) = self.every_ms {
            if after < anchor {
                return anchor.checked_add(every);
            }
            let k = (after - anchor) / every + 1;
            return anchor.checked_add(k.checked_mul(every)?);
        }
        // Cron works in whole seconds: search from the second `after` falls in.
        let cron = parse_cron(self.cron.as_deref()?).ok()?;
        let t = chrono::DateTime::from_timestamp(i64::try_from(after / 1000).ok()?, 0)?;
        let next = cron.find_next_occurrence(&t, false).ok()?;
        u64::try_from(next.timestamp()).ok()?.checked_mul(1000)
    }
}

/// A standard 5-field cron expression (minute hour day-of-month month day-of-week; names such as
/// `MON` and `JAN` allowed), parsed by the `croner` crate.
fn check_field_count(expr: &str) -> Result<()> {
    if expr.split_whitespace().count() != 5 {
        return Err(Error::InvalidCron(format!(
            "'{expr}' must have 5 fields: minute hour day-of-month month day-of-week"
        )));
    }
    Ok(())
}

pub fn parse_cron(expr: &str) -> Result<croner::Cron> {
    check_field_count(expr)?;
    let cron =
        croner::Cron::from_str(expr).map_err(|e| Error::InvalidCron(format!("'{expr}': {e}")))?;
    // Every date a 5-field cron can name comes round within 28 years (leap days included), so
    // one that has no slot after 2000 has none at all: 30 February, 31 April.
    let from = chrono::DateTime::from_timestamp(946_684_800, 0).expect("2000-01-01 is a time");
    if cron.find_next_occurrence(&from, false).is_err() {
        return Err(Error::InvalidCron(format!(
            "'{expr}' never fires: no month has that day"
        )));
    }
    Ok(cron)
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Standard 5-field syntax only: the parser also takes extensions (`L`, `W`, `#`, `?`) and
/// empty list items, which other cron implementations read differently or refuse, so a job
/// written for one would fire elsewhere at other times. Ranges are left to the parser. Checked
/// when a job is scheduled, not when its next slot is computed: a job recorded by a build that
/// took them keeps firing.
fn check_standard(expr: &str) -> Result<()> {
    check_field_count(expr)?;
    const FIELDS: [&str; 5] = ["minute", "hour", "day-of-month", "month", "day-of-week"];
    for (n, field) in expr.split_whitespace().enumerate() {
        let names: &[&str] = match n {
            3 => &MONTHS,
            4 => &DAYS,
            _ => &[],
        };
        let value = |v: &str| {
            (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                || names.iter().any(|name| name.eq_ignore_ascii_case(v))
        };
        let item_ok = |item: &str| {
            let (base, step) = match item.split_once('/') {
                Some((b, s)) => (b, Some(s)),
                None => (item, None),
            };
            let step_ok =
                step.is_none_or(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
            let base_ok = base == "*"
                || match base.split_once('-') {
                    Some((a, b)) => value(a) && value(b),
                    None => value(base),
                };
            step_ok && base_ok
        };
        if let Some(bad) = field.split(',').find(|item| !item_ok(item)) {
            let what = if bad.is_empty() {
                "an empty list item".to_owned()
            } else {
                format!("'{bad}'")
            };
            return Err(Error::InvalidCron(format!(
                "'{expr}': {what} in the {} field is not standard cron (a number, a range a-b, *, a step /n{}; items may be listed with commas)",
                FIELDS[n],
                match n {
                    3 => ", or a month name JAN..DEC",
                    4 => ", or a day name SUN..SAT",
                    _ => "",
                }
            )));
        }
        // Numbers within the field's range (the parser's own message names no field).
        const RANGES: [(u32, u32); 5] = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)];
        let (low, high) = RANGES[n];
        let numbers = field
            .split(',')
            .flat_map(|item| item.split('/').next().unwrap_or("").split('-'))
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()));
        for v in numbers {
            if !v.parse::<u32>().is_ok_and(|x| (low..=high).contains(&x)) {
                return Err(Error::InvalidCron(format!(
                    "'{expr}': {v} in the {} field is out of its range {low}-{high}",
                    FIELDS[n]
                )));
            }
        }
        // A step within the field (`*/70` minutes would fire hourly), a range that runs forwards.
        let number = |v: &str| -> Option<u32> {
            v.parse().ok().or_else(|| {
                let at = names.iter().position(|name| name.eq_ignore_ascii_case(v))?;
                Some(at as u32 + if n == 3 { 1 } else { 0 })
            })
        };
        for item in field.split(',') {
            let (base, step) = item.split_once('/').unwrap_or((item, ""));
            if let Ok(step) = step.parse::<u32>() {
                if step == 0 || step > high {
                    return Err(Error::InvalidCron(format!(
                        "'{expr}': a step of {step} in the {} field is outside 1-{high}",
                        FIELDS[n]
                    )));
                }
            }
            if let Some((a, b)) = base.split_once('-') {
                if let (Some(x), Some(y)) = (number(a), number(b)) {
                    if x > y {
                        return Err(Error::InvalidCron(format!(
                            "'{expr}': the range {base} in the {} field runs backwards",
                            FIELDS[n]
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

pub fn job_id(ix: usize) -> String {
    format!("job-{}", ix + 1)
}

pub fn parse_job_id(id: &str) -> Option<usize> {
    let n: usize = id.strip_prefix("job-")?.parse().ok()?;
    (n > 0 && id == job_id(n - 1)).then_some(n - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_out_of_its_field_s_range_is_named_with_the_field() {
        let said = |expr: &str| check_standard(expr).unwrap_err().to_string();
        assert!(said("61 * * * *").contains("61 in the minute field is out of its range 0-59"));
        assert!(said("0 25 * * *").contains("25 in the hour field is out of its range 0-23"));
        assert!(said("0 0 32 * *").contains("32 in the day-of-month field"));
        assert!(said("0 0 1 1-13 *").contains("13 in the month field is out of its range 1-12"));
        assert!(said("0 0 * * 8").contains("8 in the day-of-week field is out of its range 0-7"));
        assert!(said("*/70 * * * *").contains("a step of 70 in the minute field is outside 1-59"));
        assert!(said("0 0 * */13 *").contains("a step of 13 in the month field"));
        assert!(said("5-1 * * * *").contains("the range 5-1 in the minute field runs backwards"));
        assert!(said("0 0 * * FRI-MON").contains("the range FRI-MON in the day-of-week field"));
        assert!(check_standard("*/15 0-23 1,15 JAN-DEC MON,WED,7").is_ok());
        assert!(check_standard("5-55/10 */2 1-31/7 MAR-NOV/2 SUN-SAT").is_ok());
    }

    #[test]
    fn once_and_interval_are_names_for_at_and_every_ms_and_at_takes_a_time() {
        let t = |json: &str| serde_json::from_str::<Trigger>(json);
        assert_eq!(t(r#"{"once":1000}"#).unwrap().at, Some(1000));
        assert_eq!(t(r#"{"interval":60000}"#).unwrap().every_ms, Some(60_000));
        assert_eq!(t(r#"{"intervalMs":5}"#).unwrap().every_ms, Some(5));
        let at = t(r#"{"at":"1970-01-02T00:00:01.500Z"}"#).unwrap().at;
        assert_eq!(at, Some(86_401_500));
        assert_eq!(
            t(r#"{"at":"2026-11-22T10:00:00+01:00"}"#).unwrap().at,
            Some(1_795_338_000_000)
        );
        assert!(t(r#"{"at":"tomorrow"}"#).is_err());
        assert!(t(r#"{"at":"1969-12-31T23:59:59Z"}"#).is_err());
        // Written back in the one spelling.
        assert_eq!(
            serde_json::to_string(&t(r#"{"once":"1970-01-01T00:00:01Z"}"#).unwrap()).unwrap(),
            r#"{"at":1000}"#
        );
    }

    #[test]
    fn cron_names_and_next_slots() {
        let t = Trigger {
            cron: Some("0 9 * * MON".into()),
            ..Trigger::default()
        };
        t.validate().unwrap();
        // 1970-01-01 was a Thursday; the first Monday 09:00 UTC is 1970-01-05.
        assert_eq!(t.next_after(0, 0), Some(4 * 86_400_000 + 9 * 3_600_000));
        assert!(Trigger {
            cron: Some("61 * * * *".into()),
            ..Trigger::default()
        }
        .validate()
        .is_err());
        assert!(Trigger {
            cron: Some("* * * *".into()),
            ..Trigger::default()
        }
        .validate()
        .is_err());
        for never in ["0 0 30 2 *", "0 0 31 4 *"] {
            let e = parse_cron(never).unwrap_err();
            assert_eq!(e.code(), "invalid_cron");
            assert!(e.to_string().contains("never fires"), "{e}");
        }
        let trigger = |c: &str| Trigger {
            cron: Some(c.into()),
            ..Trigger::default()
        };
        for extension in [
            "0 9 * * MON,",
            "0,,9 * * * *",
            "0 0 5L * *",
            "0 0 15W * *",
            "0 0 * * 5#2",
            "0 0 ? * *",
            "0 9 * * L",
            "0 9 * * MONDAY",
        ] {
            let e = trigger(extension).validate().unwrap_err();
            assert_eq!(e.code(), "invalid_cron");
            assert!(e.to_string().contains("not standard cron"), "{e}");
        }
        for standard in [
            "*/15 9-17 * * MON-FRI",
            "0 0 1,15 jan,Jul *",
            "5 4 * * sun",
            "0 0 * * 7",
            "0-59/10 * * * 1-5/2",
        ] {
            trigger(standard).validate().unwrap();
        }
        // A job recorded before (when they were taken) keeps its slots.
        assert!(trigger("0 0 L * *").next_after(0, 0).is_some());
        let leap = parse_cron("0 0 29 2 *").unwrap();
        let after = chrono::DateTime::from_timestamp(1_709_164_800, 0).unwrap(); // 2024-02-29
        assert!(leap.find_next_occurrence(&after, true).is_ok());
    }

    #[test]
    fn intervals_skip_missed_slots() {
        let t = Trigger {
            every_ms: Some(1_000),
            ..Trigger::default()
        };
        assert_eq!(t.next_after(0, 0), Some(1_000));
        assert_eq!(
            t.next_after(5_500, 0),
            Some(6_000),
            "one slot, not the missed burst"
        );
        assert_eq!(
            Trigger {
                at: Some(10),
                ..Trigger::default()
            }
            .next_after(10, 0),
            None
        );
    }
}
