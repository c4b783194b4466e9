//! A non-custodial party played by the test: an account of the API plus its own wallet in a
//! wallet-rpc the server is never given. It reads `GET /api/escrows/{id}/rounds`, runs the
//! round in its wallet with the inputs shown there and submits the output, like `mmkt-party`.

use std::time::{Duration, Instant};

use monero_rpc::{MultisigInfo, WalletClient, WalletName, WalletPassword};
use reqwest::StatusCode;
use serde_json::{Value, json};
use test_support::regtest::Regtest;

use super::{STATE_WAIT, User};

/// One party (buyer or vendor) with its own wallet.
pub struct Party {
    /// The account.
    pub user: User,
    /// `buyer` or `vendor`.
    pub role: &'static str,
    /// The party's own wallet-rpc, its escrow wallet open.
    pub wallet: WalletClient,
    /// The escrow wallet's password, known only to the party (and to this test's checks).
    pub password: String,
}

impl Party {
    /// `user` playing `role` with a fresh wallet `name` on wallet-rpc `index` of `net`, under a
    /// random password.
    pub async fn new(
        net: &Regtest,
        index: usize,
        user: User,
        role: &'static str,
        name: &str,
    ) -> Party {
        let password = format!(
            "party-secret-{role}-{:x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let wallet = net.wallet(index).with_label(role);
        wallet
            .create_wallet(
                &name.parse::<WalletName>().unwrap(),
                &WalletPassword::new(password.clone()),
            )
            .await
            .expect("party wallet");
        Party {
            user,
            role,
            wallet,
            password,
        }
    }

    /// The rounds view of `escrow_id` (must answer 200).
    pub async fn rounds(&self, escrow_id: i64) -> Value {
        let (status, body) = self
            .user
            .get(&format!("/api/escrows/{escrow_id}/rounds"))
            .await;
        assert_eq!(status, StatusCode::OK, "{} rounds: {body}", self.role);
        body
    }

    /// `POST /api/escrows/{escrow_id}/rounds/{round}` with `payload`.
    pub async fn submit(&self, escrow_id: i64, round: &str, payload: &str) -> (StatusCode, Value) {
        self.user
            .post(
                &format!("/api/escrows/{escrow_id}/rounds/{round}"),
                json!({ "payload": payload }),
            )
            .await
    }

    /// Polls the rounds view until `round` is this party's turn.
    pub async fn wait_turn(&self, escrow_id: i64, round: &str) -> Value {
        let deadline = Instant::now() + STATE_WAIT;
        loop {
            let view = self.rounds(escrow_id).await;
            if view["round"] == round && view["your_turn"] == true {
                return view;
            }
            assert!(
                Instant::now() < deadline,
                "{} never got its turn for {round}: {view}",
                self.role
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// This party's output of setup `round` from its wallet, given the view's `inputs`.
    pub async fn output(&self, round: &str, inputs: &Value) -> String {
        let infos: Vec<MultisigInfo> = inputs
            .as_array()
            .unwrap()
            .iter()
            .map(|i| MultisigInfo::new(i.as_str().unwrap()).unwrap())
            .collect();
        let password = WalletPassword::new(self.password.clone());
        match round {
            "prepare" => self
                .wallet
                .prepare_multisig()
                .await
                .unwrap()
                .expose_secret()
                .to_owned(),
            "make" => self
                .wallet
                .make_multisig(&infos, 2, &password)
                .await
                .unwrap()
                .expose_secret()
                .to_owned(),
            "exchange_round_1" => {
                let next = self
                    .wallet
                    .exchange_multisig_keys(&infos, &password)
                    .await
                    .unwrap();
                next.multisig_info.unwrap().expose_secret().to_owned()
            }
            "exchange_round_2" => {
                let done = self
                    .wallet
                    .exchange_multisig_keys(&infos, &password)
                    .await
                    .unwrap();
                done.address.unwrap().as_str().to_owned()
            }
            other => panic!("not a setup round: {other}"),
        }
    }

    /// Waits for this party's turn in `round`, runs it and submits the output (must be taken).
    pub async fn play(&self, escrow_id: i64, round: &str) -> Value {
        let view = self.wait_turn(escrow_id, round).await;
        let output = self.output(round, &view["inputs"]).await;
        let (status, body) = self.submit(escrow_id, round, &output).await;
        assert_eq!(status, StatusCode::OK, "{} {round}: {body}", self.role);
        body
    }
}

/// Every text cell of every table of the SQLCipher database `db` (opened with the key file
/// `key`), joined: what a search for a secret in the stored data must not find.
pub fn database_text(db: &std::path::Path, key: &std::path::Path) -> String {
    let key = mmkt_sqlcipher::read_key_file(key).unwrap();
    let options = mmkt_sqlcipher::OpenOptions {
        access: mmkt_sqlcipher::Access::ReadOnly,
        busy_timeout: Duration::from_secs(5),
        page_size: None,
    };
    let conn = mmkt_sqlcipher::open(db, &key, &options).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut text = String::new();
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..columns {
                if let Ok(cell) = row.get::<_, String>(i) {
                    text.push_str(&cell);
                    text.push('\n');
                }
            }
        }
    }
    text
}

impl Party {
    /// `export_sync`: refresh, then this wallet's `export_multisig_info`.
    pub async fn export_sync(&self) -> String {
        self.wallet.refresh(None).await.unwrap();
        self.wallet
            .export_multisig_info()
            .await
            .unwrap()
            .expose_secret()
            .to_owned()
    }

    /// `build_txset`: imports the other signer's sync info (`inputs`), then sweeps the escrow to
    /// `destination`; the partial txset.
    pub async fn build(&self, inputs: &Value, destination: &monero_rpc::Address) -> String {
        self.import(inputs).await;
        match self
            .wallet
            .sweep_all(destination, monero_rpc::TransferOptions::default())
            .await
            .unwrap()
        {
            monero_rpc::SweepOutcome::MultisigPending { multisig_txset, .. } => {
                multisig_txset.expose_secret().to_owned()
            }
            other => panic!("not a multisig sweep: {other:?}"),
        }
    }

    /// `sign_txset`: imports the first signer's sync info, signs `partial`; the signed set.
    pub async fn sign(&self, inputs: &Value, partial: &str) -> String {
        self.import(inputs).await;
        let txset = monero_rpc::MultisigTxset::new(partial).unwrap();
        match self.wallet.sign_multisig(&txset).await.unwrap() {
            monero_rpc::SignOutcome::FullySigned { multisig_txset, .. } => {
                multisig_txset.expose_secret().to_owned()
            }
            other => panic!("still needs signatures: {other:?}"),
        }
    }

    async fn import(&self, inputs: &Value) {
        let infos: Vec<monero_rpc::MultisigSyncInfo> = inputs
            .as_array()
            .unwrap()
            .iter()
            .map(|i| monero_rpc::MultisigSyncInfo::new(i.as_str().unwrap()).unwrap())
            .collect();
        self.wallet.refresh(None).await.unwrap();
        self.wallet.import_multisig_info(&infos).await.unwrap();
    }
}
