//! The exit codes of one container's runs, read from the Engine API's `die` events, so the last
//! exit code of a crash-looping container is known even when every inspect catches it running
//! again (a running container's `State.ExitCode` is 0, not the code of the run before).

use bollard::Docker;
use bollard::models::{ContainerInspectResponse, ContainerState, ContainerStateStatusEnum};
use bollard::query_parameters::EventsOptionsBuilder;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, future};

/// One run's end, from a `die` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exit {
    /// The run's exit code (the event's `exitCode` attribute).
    pub(crate) code: i64,
    /// When the engine reported it, in nanoseconds since the Unix epoch (the event's `timeNano`).
    pub(crate) at_nanos: i128,
}

/// Whether the event stream still delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Feed {
    Open,
    Closed,
}

/// The `die` events of one container, replayed from its creation and then streamed live
/// (`GET /events?since=<created>&filters={"type":["container"],"container":[ID],"event":["die"]}`).
pub(crate) struct ExitWatch {
    events: BoxStream<'static, Result<bollard::models::EventMessage, bollard::errors::Error>>,
    feed: Feed,
    exits: Vec<Exit>,
}

impl ExitWatch {
    /// Subscribes to the container's `die` events since `info`'s creation time (the engine
    /// replays the ones it still buffers, so exits before the subscription count too). The
    /// request is sent on the first [`ExitWatch::next_exit`].
    pub(crate) fn open(docker: &Docker, id: &str, info: &ContainerInspectResponse) -> Self {
        let filters = std::collections::HashMap::from([
            ("type".to_string(), vec!["container".to_string()]),
            ("container".to_string(), vec![id.to_string()]),
            ("event".to_string(), vec!["die".to_string()]),
        ]);
        let mut opts = EventsOptionsBuilder::default().filters(&filters);
        if let Some(created) = info.created.as_deref().and_then(unix_nanos) {
            opts = opts.since(&(created / 1_000_000_000).to_string());
        }
        ExitWatch {
            events: docker.events(Some(opts.build())).boxed(),
            feed: Feed::Open,
            exits: Vec::new(),
        }
    }

    /// Waits for the next `die` event and records it. Never completes once the stream has ended
    /// or failed (the caller bounds the wait with its poll interval and keeps polling inspect).
    pub(crate) async fn next_exit(&mut self) {
        while self.feed == Feed::Open {
            match self.events.next().await {
                Some(Ok(event)) => {
                    if let Some(exit) = exit_of(&event) {
                        self.exits.push(exit);
                        return;
                    }
                }
                Some(Err(_)) | None => self.feed = Feed::Closed,
            }
        }
        future::pending::<()>().await;
    }

    /// The exit code of the container's most recent run that ended, as of `info`, or `None`
    /// when it is not known yet (see [`last_exit_code`]).
    pub(crate) fn last_code(&self, info: &ContainerInspectResponse) -> Option<i64> {
        last_exit_code(info.state.as_ref()?, &self.exits)
    }
}

/// The exit code of the most recent run that ended. A stopped or restarting container's
/// `State.ExitCode` is that run's code. A running one's is 0, so the code comes from the `die`
/// event the engine emitted after that run's end (`State.FinishedAt`), which no earlier run's
/// event can be; `None` until that event has arrived.
pub(crate) fn last_exit_code(state: &ContainerState, exits: &[Exit]) -> Option<i64> {
    match state.status? {
        ContainerStateStatusEnum::RESTARTING
        | ContainerStateStatusEnum::EXITED
        | ContainerStateStatusEnum::DEAD => state.exit_code,
        ContainerStateStatusEnum::RUNNING => {
            let finished = unix_nanos(state.finished_at.as_deref()?)?;
            exits
                .iter()
                .rev()
                .find(|e| e.at_nanos >= finished)
                .map(|e| e.code)
        }
        _ => None,
    }
}

/// The run's end carried by a `die` event, if it has an exit code and a time.
fn exit_of(event: &bollard::models::EventMessage) -> Option<Exit> {
    if event.action.as_deref() != Some("die") {
        return None;
    }
    let code = event
        .actor
        .as_ref()?
        .attributes
        .as_ref()?
        .get("exitCode")?
        .parse()
        .ok()?;
    let at_nanos = match event.time_nano {
        Some(n) => i128::from(n),
        None => i128::from(event.time?) * 1_000_000_000,
    };
    Some(Exit { code, at_nanos })
}

/// An RFC 3339 time (as inspect prints `Created`, `StartedAt`, `FinishedAt`) in nanoseconds
/// since the Unix epoch.
fn unix_nanos(rfc3339: &str) -> Option<i128> {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp_nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FINISHED: &str = "2026-01-01T00:00:10.5Z";

    fn state(status: ContainerStateStatusEnum, exit_code: i64) -> ContainerState {
        ContainerState {
            status: Some(status),
            exit_code: Some(exit_code),
            finished_at: Some(FINISHED.into()),
            ..Default::default()
        }
    }

    fn exit(code: i64, at: &str) -> Exit {
        Exit {
            code,
            at_nanos: unix_nanos(at).unwrap(),
        }
    }

    #[test]
    fn a_stopped_or_restarting_container_reports_its_own_exit_code() {
        let events = [exit(9, "2026-01-01T00:00:11Z")];
        for status in [
            ContainerStateStatusEnum::RESTARTING,
            ContainerStateStatusEnum::EXITED,
            ContainerStateStatusEnum::DEAD,
        ] {
            assert_eq!(last_exit_code(&state(status, 3), &events), Some(3));
        }
    }

    #[test]
    fn a_running_container_reports_the_die_event_after_its_last_finish() {
        let running = state(ContainerStateStatusEnum::RUNNING, 0);
        let earlier = exit(7, "2026-01-01T00:00:09Z");
        let latest = exit(3, "2026-01-01T00:00:10.500001Z");
        assert_eq!(last_exit_code(&running, &[earlier, latest]), Some(3));
        // Only events of earlier runs (or none): not known yet, rather than a wrong code.
        assert_eq!(last_exit_code(&running, &[earlier]), None);
        assert_eq!(last_exit_code(&running, &[]), None);
    }

    #[test]
    fn a_container_that_never_ran_has_no_exit_code() {
        let created = state(ContainerStateStatusEnum::CREATED, 0);
        assert_eq!(last_exit_code(&created, &[exit(3, FINISHED)]), None);
    }

    #[test]
    fn die_events_give_their_exit_code_and_time() {
        let event = |action: &str, code: &str| bollard::models::EventMessage {
            action: Some(action.into()),
            actor: Some(bollard::models::EventActor {
                id: Some("c".into()),
                attributes: Some([("exitCode".to_string(), code.to_string())].into()),
            }),
            time: Some(5),
            time_nano: Some(5_000_000_123),
            ..Default::default()
        };
        let want = Exit {
            code: 137,
            at_nanos: 5_000_000_123,
        };
        assert_eq!(exit_of(&event("die", "137")), Some(want));
        assert_eq!(exit_of(&event("start", "0")), None);
        assert_eq!(exit_of(&event("die", "not-a-number")), None);
    }
}
