//! Sets of `events` columns: what a reader is asked to fill.
//!
//! A command that reads only some columns (`summary` counts accounts, regions, sources, names,
//! identity types and errors) asks ingest for those ([`crate::ingest::IngestOptions::columns`]);
//! every other column of its events is left empty (`None`, `false`), and the work that fills it
//! (interning, copying and redacting the raw documents, reading the STS fields) is not done.
//! The record is read and checked exactly as for every column: a record that cannot be read
//! fails the same way, with the same message. A projected event holds exactly what the full
//! event holds on the projected columns ([`Columns::project`] states it; the tests check it).

use super::{Event, Sts, StsCall, COLUMNS};

/// A set of columns of [`COLUMNS`], one bit each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Columns(u64);

/// The index of a column in [`COLUMNS`]; a compile error for a name that is not one.
const fn index(name: &str) -> u32 {
    let mut i = 0;
    while i < COLUMNS.len() {
        let c = COLUMNS[i].as_bytes();
        let n = name.as_bytes();
        if c.len() == n.len() {
            let mut j = 0;
            while j < c.len() && c[j] == n[j] {
                j += 1;
            }
            if j == c.len() {
                return i as u32;
            }
        }
        i += 1;
    }
    panic!("not a column of the events table")
}

impl Columns {
    /// Every column: the full read.
    pub const ALL: Columns = Columns((1 << COLUMNS.len()) - 1);
    /// No column (the event time is always read: an event is placed by it).
    pub const NONE: Columns = Columns(0);

    /// The columns named, each given as it is spelled in [`COLUMNS`]; evaluated at compile
    /// time in a `const`, where a misspelt name does not compile.
    pub const fn named(names: &[&str]) -> Columns {
        let mut bits = 0u64;
        let mut i = 0;
        while i < names.len() {
            bits |= 1 << index(names[i]);
            i += 1;
        }
        Columns(bits)
    }

    /// The columns named; the first name that is no column is the error.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Columns, String> {
        let mut bits = 0u64;
        for n in names {
            let i = COLUMNS
                .iter()
                .position(|c| *c == n)
                .ok_or_else(|| format!("`{n}` is not a column of the events table"))?;
            bits |= 1 << i;
        }
        Ok(Columns(bits))
    }

    pub const fn union(self, other: Columns) -> Columns {
        Columns(self.0 | other.0)
    }

    pub const fn intersection(self, other: Columns) -> Columns {
        Columns(self.0 & other.0)
    }

    pub const fn contains(self, other: Columns) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any of `other` is in the set.
    pub const fn any(self, other: Columns) -> bool {
        self.0 & other.0 != 0
    }

    pub const fn is_all(self) -> bool {
        self.0 == Columns::ALL.0
    }

    /// The names of the columns, in table order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        COLUMNS
            .iter()
            .enumerate()
            .filter(move |(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, c)| *c)
    }

    /// `event` with the columns outside the set emptied (`None`, `false`). Kept whatever the
    /// set: `event_time`, the derived columns (`is_issuing_call`, `is_error`, `event_day`:
    /// cheap, always filled) and what is not a column (`origin`, the identity notes, rule
    /// hits). A projected read gives exactly this of the full read's event.
    pub fn project(self, event: &Event) -> Event {
        let mut e = event.clone();
        macro_rules! keep {
            ($($field:ident),* $(,)?) => {
                $(
                    if !self.any(const { Columns::named(&[stringify!($field)]) }) {
                        e.$field = Default::default();
                    }
                )*
            };
        }
        keep!(
            event_id,
            event_name,
            event_source,
            aws_region,
            source_ip,
            user_agent,
            error_code,
            error_message,
            read_only,
            management_event,
            event_type,
            event_category,
            recipient_account_id,
            shared_event_id,
            shared_copy,
            request_id,
            vpc_endpoint_id,
            identity_type,
            principal_arn,
            principal_id,
            account_id,
            user_name,
            access_key_id,
            invoked_by,
            identity_provider,
            session_issuer_type,
            session_issuer_arn,
            session_issuer_account_id,
            session_issuer_user_name,
            session_created_at,
            mfa_authenticated,
            source_identity,
            request_parameters,
            response_elements,
            additional_event_data,
        );
        e.sts = self.project_sts(event.sts.0.as_deref());
        e
    }

    /// The STS columns in the set, or none at all when the set has none of them.
    pub(super) fn project_sts(self, sts: Option<&StsCall>) -> Sts {
        let Some(s) = sts.filter(|_| self.any(STS)) else {
            return Sts(None);
        };
        let mut c = s.clone();
        macro_rules! keep {
            ($($field:ident),* $(,)?) => {
                $(
                    if !self.any(const { Columns::named(&[stringify!($field)]) }) {
                        c.$field = Default::default();
                    }
                )*
            };
        }
        keep!(
            requested_role_arn,
            role_session_name,
            requested_duration_seconds,
            requested_source_identity,
            issued_access_key_id,
            issued_expiration,
            assumed_role_arn,
            federated_subject,
            federated_provider,
        );
        Sts(Some(Box::new(c)))
    }
}

impl Default for Columns {
    /// Every column.
    fn default() -> Self {
        Columns::ALL
    }
}

/// The columns read from requests and responses of the STS calls that issue credentials.
pub const STS: Columns = Columns::named(&[
    "requested_role_arn",
    "role_session_name",
    "requested_duration_seconds",
    "requested_source_identity",
    "issued_access_key_id",
    "issued_expiration",
    "assumed_role_arn",
    "federated_subject",
    "federated_provider",
]);

/// What ingest itself reads of every event, whatever a command asks for: the total order and
/// duplicate key ([`Event::sort_key`]), the marking of cross-account copies, and the
/// `--since/--until/--account/--region` scope.
pub const INGEST: Columns = Columns::named(&[
    "event_time",
    "event_id",
    "recipient_account_id",
    "event_source",
    "event_name",
    "principal_arn",
    "access_key_id",
    "source_ip",
    "request_id",
    "error_code",
    "issued_access_key_id",
    "shared_event_id",
    "shared_copy",
    "identity_type",
    "account_id",
    "aws_region",
]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_named_as_in_the_table() {
        assert_eq!(Columns::named(&COLUMNS), Columns::ALL);
        let c = Columns::parse(["event_name", "aws_region"]).unwrap();
        assert_eq!(c.names().collect::<Vec<_>>(), ["event_name", "aws_region"]);
        assert_eq!(c, Columns::named(&["aws_region", "event_name"]));
        assert_eq!(
            Columns::parse(["event_name", "region"]).unwrap_err(),
            "`region` is not a column of the events table"
        );
        assert!(Columns::ALL.contains(INGEST) && INGEST.any(STS) && !INGEST.contains(STS));
        assert!(Columns::default().is_all());
    }
}
