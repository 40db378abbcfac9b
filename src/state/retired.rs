//! What a scheduled run keeps of the chains of sessions its engine takes out while the events
//! stream ([`crate::engine::Hunt::handing_out_retired`]): chains that expired
//! `--keep-expired-hours` before the latest call, which its saved state drops anyway. A first
//! run over a month's backlog then holds the sessions alive, not every session of the month.
//!
//! Nothing of a chain stays in memory: the sessions the run's events touched go to the lake's
//! `sessions` table (held per partition, written aside past a budget, sorted into the graph's
//! order when the parts are written), and the chains themselves to a file beside the state, from
//! which the incidents read back the sessions around their findings.

use super::{io_err, LakeParts, State};
use crate::detect::Finding;
use crate::error::{Error, Result};
use crate::event::{format_iso, Text};
use crate::graph::{Graph, GraphState, HashSet as FastSet, SavedGraph, Session};
use polars::prelude::*;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

/// Sessions of the run's retired chains held for the sessions table before they are written
/// aside (about 1 KB each).
const TABLE_SESSIONS_HELD: usize = 50_000;

/// A session of the sessions table with the day it is stored under.
pub(super) struct TableSession {
    day: String,
    session: Session,
}

/// A session's lake partition: its account and the day it was issued (or first used).
pub(super) fn session_partition(s: &Session) -> (String, String) {
    (
        s.account.as_deref().unwrap_or("unknown").to_string(),
        s.issued_at
            .or(s.first_used)
            .map(|t| format_iso(t)[..10].to_string())
            .unwrap_or_else(|| "unknown".into()),
    )
}

impl TableSession {
    pub(super) fn of(session: Session) -> TableSession {
        TableSession {
            day: session_partition(&session).1,
            session,
        }
    }

    fn partition(&self) -> (&str, &str) {
        (
            self.session.account.as_deref().unwrap_or("unknown"),
            &self.day,
        )
    }
}

fn table_frame(batches: &[Vec<TableSession>]) -> Result<DataFrame> {
    let sessions: Vec<&Session> = batches.iter().flatten().map(|t| &t.session).collect();
    crate::frame::sessions_frame(&sessions)
}

/// The chains a run took out, kept aside (see the module's comment).
pub(super) struct RetiredChains {
    /// The touched sessions of the chains taken out, per partition.
    sessions: LakeParts<TableSession>,
    /// The chains, one [`SavedGraph`] after another (MessagePack).
    chains: ChainsFile,
    out: Option<std::io::BufWriter<std::fs::File>>,
    /// Sessions taken out.
    pub taken: usize,
}

impl RetiredChains {
    /// Chains kept in `state`'s folder for `run` (its sessions written aside past
    /// `budget`, at most [`TABLE_SESSIONS_HELD`], in `aside`).
    pub fn new(state: &State, run: &str, aside: PathBuf, budget: usize) -> RetiredChains {
        RetiredChains {
            sessions: LakeParts::new("sessions")
                .spilling(aside, budget.clamp(1, TABLE_SESSIONS_HELD)),
            chains: ChainsFile {
                file: state.dir().join(format!(".retired-{run}.msgpack")),
                written: false,
            },
            out: None,
            taken: 0,
        }
    }

    /// Keeps a chain the engine took out: its sessions `touched` by the run for the sessions
    /// table, and the chain itself in the file. Its keys are no longer counted as touched:
    /// the table has them (a call signed later with one of them starts a session of its own).
    pub fn keep(
        &mut self,
        chain: Graph,
        sub: GraphState,
        touched: &mut FastSet<Text>,
    ) -> Result<()> {
        self.taken += chain.sessions.len();
        let rows: Vec<TableSession> = chain
            .sessions
            .into_iter()
            .filter(|s| touched.remove(&s.access_key_id))
            .map(TableSession::of)
            .collect();
        self.sessions.push(rows, TableSession::partition);
        self.sessions.spill_over(table_frame)?;
        let file = &self.chains.file;
        if self.out.is_none() {
            let f = std::fs::File::create(file).map_err(|e| io_err(file, e))?;
            self.out = Some(std::io::BufWriter::new(f));
            self.chains.written = true;
        }
        if let Some(out) = self.out.as_mut() {
            rmp_serde::encode::write_named(out, &sub.saved_ref()).map_err(|e| io_err(file, e))?;
        }
        Ok(())
    }

    /// Writes the run's sessions table: the sessions kept here and `rest` (the touched sessions
    /// of the graph at the end), each part in the graph's order, the same bytes as a run that
    /// held every session would write. Returns the chains' file, for the incidents.
    pub fn write_sessions(
        self,
        state: &State,
        run: &str,
        rest: Vec<Session>,
    ) -> Result<ChainsFile> {
        let RetiredChains {
            mut sessions,
            chains,
            out,
            ..
        } = self;
        if let Some(mut out) = out {
            out.flush().map_err(|e| io_err(&chains.file, e))?;
        }
        sessions.push(
            rest.into_iter().map(TableSession::of).collect(),
            TableSession::partition,
        );
        sessions.each_partition(table_frame, |partition, df| {
            let mut df = in_graph_order(df)?;
            state.write_part("sessions", run, partition, &mut df)
        })?;
        Ok(chains)
    }
}

/// A sessions frame sorted as the graph sorts its sessions (`graph::sort_sessions`, here on a
/// frame: some rows come back from the parts written aside): by issue (or first use when the
/// issuing call is not in the logs; none first), then key.
fn in_graph_order(df: DataFrame) -> Result<DataFrame> {
    let times = |name: &str| -> Result<Vec<Option<i64>>> {
        let c = df.column(name)?.cast(&DataType::Int64)?;
        Ok(c.i64()?.iter().collect())
    };
    let issued = times("issued_at")?;
    let first = times("first_used")?;
    let keys = df.column("access_key_id")?.str()?;
    let mut order: Vec<(Option<i64>, &str, IdxSize)> = issued
        .iter()
        .zip(&first)
        .zip(keys.iter())
        .enumerate()
        .map(|(i, ((a, b), k))| (a.or(*b), k.unwrap_or(""), i as IdxSize))
        .collect();
    order.sort_unstable();
    let idx = IdxCa::from_vec(
        "".into(),
        order.into_iter().map(|(_, _, i)| i).collect::<Vec<_>>(),
    );
    let mut sorted = df.take(&idx)?;
    sorted.rechunk_mut_par();
    Ok(sorted)
}

/// The chains a run took out, in their file beside the state (removed when this is dropped;
/// a killed run's is removed by the next).
pub(super) struct ChainsFile {
    file: PathBuf,
    written: bool,
}

impl Drop for ChainsFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

impl ChainsFile {
    /// Calls `each` with every chain in the file that mentions a key `wanted` asks for
    /// ([`SavedGraph::mentions`]), resolved (the same sessions as when it was taken out).
    fn each(&self, wanted: impl Fn(&str) -> bool, mut each: impl FnMut(&Graph)) -> Result<()> {
        use std::io::BufRead;
        if !self.written {
            return Ok(());
        }
        let f = std::fs::File::open(&self.file).map_err(|e| io_err(&self.file, e))?;
        let mut r = std::io::BufReader::new(f);
        while !r.fill_buf().map_err(|e| io_err(&self.file, e))?.is_empty() {
            let saved: SavedGraph = rmp_serde::from_read(&mut r)
                .map_err(|e| Error::Other(format!("{}: {e}", self.file.display())))?;
            if saved.mentions(&wanted) {
                each(&GraphState::from_saved(saved).finish());
            }
        }
        Ok(())
    }

    /// `graph` with the sessions taken out that the incidents of `findings` look at: the whole
    /// chains (trees) of the keys the findings name, and of the sessions issued by the
    /// long-term keys they name or that are at their chains' tops (see
    /// [`crate::incident::group`]). None when no such session was taken
    /// out (`graph` is what the incidents read).
    pub fn around(&self, graph: &Graph, findings: &[Finding]) -> Result<Option<Graph>> {
        let named: BTreeSet<&str> = findings
            .iter()
            .flat_map(|f| {
                f.access_key_id
                    .as_deref()
                    .into_iter()
                    .chain(f.chain.iter().map(|h| h.access_key_id.as_str()))
            })
            .filter(|k| !k.is_empty())
            .collect();
        if named.is_empty() || !self.written {
            return Ok(None);
        }
        let mut loaded: Vec<Session> = Vec::new();
        let mut have: FastSet<Text> = graph
            .sessions
            .iter()
            .map(|s| s.access_key_id.clone())
            .collect();
        // Long-term keys whose sessions the incidents look at: those named (a finding on an
        // IAM user's key), and the callers at the tops of the named keys' chains, wherever
        // those chains are.
        let mut tops: BTreeSet<Text> = named.iter().map(|k| Text::from(*k)).collect();
        let top_caller = |g: &Graph, k: &str| -> Option<Text> {
            g.ancestors(k)
                .first()
                .and_then(|t| t.caller_access_key_id.clone())
        };
        tops.extend(named.iter().filter_map(|k| top_caller(graph, k)));
        let mut take_tree = |g: &Graph, top: &str, loaded: &mut Vec<Session>| {
            for s in g.descendants(top) {
                if have.insert(s.access_key_id.clone()) {
                    loaded.push(s.clone());
                }
            }
        };
        let issued_by = |s: &Session, keys: &BTreeSet<Text>| {
            s.parent_access_key_id.is_none()
                && s.caller_access_key_id
                    .as_ref()
                    .is_some_and(|c| keys.contains(c))
        };
        // One pass for the named keys' chains and the sessions of the long-term keys known so
        // far; a second one only for those found at the tops of chains it read.
        let known = tops;
        let mut found: BTreeSet<Text> = BTreeSet::new();
        self.each(
            |k| named.contains(k) || known.contains(k),
            |g| {
                for k in &named {
                    if let Some(top) = g.ancestors(k).first() {
                        take_tree(g, &top.access_key_id, &mut loaded);
                        found.extend(top_caller(g, k).filter(|c| !known.contains(c)));
                    }
                }
                for s in g.sessions.iter().filter(|s| issued_by(s, &known)) {
                    take_tree(g, &s.access_key_id, &mut loaded);
                }
            },
        )?;
        if !found.is_empty() {
            self.each(
                |k| found.contains(k),
                |g| {
                    for s in g.sessions.iter().filter(|s| issued_by(s, &found)) {
                        take_tree(g, &s.access_key_id, &mut loaded);
                    }
                },
            )?;
        }
        if loaded.is_empty() {
            return Ok(None);
        }
        loaded.extend(graph.sessions.iter().cloned());
        Ok(Some(Graph::default().join(loaded)))
    }
}
