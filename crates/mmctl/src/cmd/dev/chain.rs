//! `mmctl dev pay ADDRESS AMOUNT`, `mmctl dev mine N`, `mmctl dev address`: the faucet and the
//! regtest chain (`mmkt_stack::dev::chain`).

use clap::Args;
use mmkt_stack::dev::amount::{self, Amount};
use mmkt_stack::dev::chain::DevChain;

use crate::args::{StackArgs, connect};
use crate::exit::{Outcome, classify_dev};

/// `mmctl dev pay ADDRESS AMOUNT`.
#[derive(Debug, Args)]
pub struct PayArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// The address to pay (regtest: 95 characters starting with 4, or 8 for a subaddress).
    pub address: String,
    /// XMR as a decimal (1.5, or 1.5xmr), or piconero with the suffix pico (1500000000000pico).
    #[arg(value_parser = amount::parse)]
    pub amount: Amount,
    /// Print the payment as JSON ({tx_hash, amount, fee}, piconero).
    #[arg(long)]
    pub json: bool,
}

/// `mmctl dev mine N`.
#[derive(Debug, Args)]
pub struct MineArgs {
    #[command(flatten)]
    pub stack: StackArgs,
    /// How many blocks (1 or more; coinbase unlocks after 60, a payment after 10).
    #[arg(value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub blocks: u64,
}

/// `mmctl dev address`.
#[derive(Debug, Args)]
pub struct AddressArgs {
    #[command(flatten)]
    pub stack: StackArgs,
}

/// The faucet and daemon of the development stack named by `stack`.
async fn chain(stack: &StackArgs, docker_host: Option<&str>) -> anyhow::Result<DevChain> {
    let project = stack.load()?;
    mmkt_stack::dev::require_development(&project).map_err(classify_dev)?;
    let engine = connect(docker_host).await?;
    DevChain::connect(&project, &engine)
        .await
        .map_err(classify_dev)
}

/// Runs `mmctl dev pay`: prints the transaction hash, amount and fee.
pub async fn run_pay(args: PayArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let chain = chain(&args.stack, docker_host).await?;
    let paid = chain
        .pay(&args.address, args.amount)
        .await
        .map_err(classify_dev)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&paid)?);
        return Ok(Outcome::Success);
    }
    println!(
        "paid {} XMR (fee {} XMR) in transaction {}",
        paid.amount, paid.fee, paid.tx_hash
    );
    println!("the miner confirms it within seconds; `mmctl dev mine 10` confirms it now");
    Ok(Outcome::Success)
}

/// Runs `mmctl dev mine`: prints the new height.
pub async fn run_mine(args: MineArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let chain = chain(&args.stack, docker_host).await?;
    let mined = chain.mine(args.blocks).await.map_err(classify_dev)?;
    println!(
        "mined {} block(s) to the faucet; height {}",
        mined.blocks, mined.height
    );
    Ok(Outcome::Success)
}

/// Runs `mmctl dev address`: prints the faucet's address alone on a line.
pub async fn run_address(args: AddressArgs, docker_host: Option<&str>) -> anyhow::Result<Outcome> {
    let chain = chain(&args.stack, docker_host).await?;
    let address = chain.faucet_address().await.map_err(classify_dev)?;
    println!("{address}");
    Ok(Outcome::Success)
}
