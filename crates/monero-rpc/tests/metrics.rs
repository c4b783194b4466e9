//! Every call records the `monero_rpc_*` metrics with their labels, checked with a capturing
//! `metrics` recorder on a call that fails (nothing listens on the port).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use monero_rpc::{METRIC_DURATION, METRIC_ERRORS, RpcError, WalletClient};

/// One registration: metric name, labels, values recorded through the handle.
type Registration = (String, Vec<(String, String)>, Arc<Mutex<Vec<f64>>>);

/// Keeps every metric registration with its labels and the values recorded.
#[derive(Default)]
struct CapturingRecorder {
    seen: Mutex<Vec<Registration>>,
}

struct Values(Arc<Mutex<Vec<f64>>>);

impl metrics::CounterFn for Values {
    fn increment(&self, value: u64) {
        self.0.lock().unwrap().push(value as f64);
    }
    fn absolute(&self, value: u64) {
        self.0.lock().unwrap().push(value as f64);
    }
}

impl metrics::HistogramFn for Values {
    fn record(&self, value: f64) {
        self.0.lock().unwrap().push(value);
    }
}

impl CapturingRecorder {
    fn register(&self, key: &metrics::Key) -> Arc<Values> {
        let values = Arc::new(Mutex::new(Vec::new()));
        let labels = key
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        self.seen
            .lock()
            .unwrap()
            .push((key.name().to_owned(), labels, values.clone()));
        Arc::new(Values(values))
    }

    fn find(&self, name: &str) -> (Vec<(String, String)>, Vec<f64>) {
        let seen = self.seen.lock().unwrap();
        let (_, labels, values) = seen
            .iter()
            .find(|(n, _, _)| n == name)
            .unwrap_or_else(|| panic!("metric {name} not recorded"));
        (labels.clone(), values.lock().unwrap().clone())
    }
}

impl metrics::Recorder for CapturingRecorder {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        metrics::Counter::from_arc(self.register(key))
    }
    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }
    fn register_histogram(
        &self,
        key: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::from_arc(self.register(key))
    }
}

#[test]
fn each_call_records_duration_and_errors_with_labels() {
    // A loopback port nothing listens on: the call fails fast with a transport error.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let wallet = WalletClient::new(&format!("http://127.0.0.1:{port}"))
        .unwrap()
        .with_label("buyer")
        .with_timeout(Duration::from_secs(5));
    let recorder = CapturingRecorder::default();
    let result = metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(wallet.get_version())
    });
    assert!(
        matches!(
            result,
            Err(RpcError::Transport {
                method: "get_version",
                ..
            })
        ),
        "{result:?}"
    );
    let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    let (labels, values) = recorder.find(METRIC_DURATION);
    assert_eq!(
        labels,
        vec![pair("method", "get_version"), pair("wallet", "buyer")]
    );
    assert_eq!(values.len(), 1);
    assert!(values[0] >= 0.0);
    let (labels, values) = recorder.find(METRIC_ERRORS);
    assert_eq!(
        labels,
        vec![
            pair("method", "get_version"),
            pair("error_type", "transport")
        ]
    );
    assert_eq!(values, vec![1.0]);
}
