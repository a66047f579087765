//! A short tour of edgepg against the database named by `PGSQL` (or `DATABASE_URL`).
//!
//! Run it with `cargo xtask demo`, which starts a throwaway PostgreSQL if needed.

use std::time::Duration;

use edgepg_tokio::{ErrorKind, Pool, Session, Statement, Value};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("PGSQL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .map_err(|_| "set PGSQL or DATABASE_URL to a postgresql:// URL")?;

    println!("== Session: each call borrows a pooled connection");
    let session = Session::new(url.as_str())?;
    let hello = session
        .query(
            "SELECT 'hello' AS greeting, 6 * 7 AS answer, now() AS at",
            &[],
        )
        .await?;
    println!("as_dict()        -> {:?}", hello.as_dict()?);
    println!("status           -> {}", hello.status());
    let series = session
        .query(
            "SELECT g AS n, g * g AS square FROM generate_series(1, $1::int) AS g",
            &[&5i32],
        )
        .await?;
    for row in &series {
        println!(
            "  n={} square={}",
            row.get::<i32, _>("n"),
            row.get::<i32, _>("square")
        );
    }
    let r = session.callproc("mod", &[&6i32, &4i32]).await?;
    println!("callproc mod(6,4) -> {}", r[0].values()[0]);

    println!("\n== Transaction: BEGIN … COMMIT on one connection");
    let pool = Pool::builder(url.as_str())
        .min_size(2)
        .max_size(4)
        .idle_timeout(Duration::from_secs(5))
        .build()?;
    pool.connect().await?;
    pool.execute("DROP TABLE IF EXISTS demo_items", &[]).await?;
    pool.execute(
        "CREATE TABLE demo_items (id int PRIMARY KEY, name text)",
        &[],
    )
    .await?;
    let results = pool
        .transaction([
            Statement::from((
                "INSERT INTO demo_items VALUES ($1, $2)",
                vec![Value::from(1), Value::from("apple")],
            )),
            Statement::from((
                "INSERT INTO demo_items VALUES ($1, $2)",
                vec![Value::from(2), Value::from("pear")],
            )),
            Statement::from("SELECT count(*) AS items FROM demo_items"),
        ])
        .await?;
    println!("committed; count -> {:?}", results[2].as_dict()?);

    println!("\n== An error: a duplicate key rolls the whole transaction back");
    let err = pool
        .transaction([
            (
                "INSERT INTO demo_items VALUES ($1, $2)",
                vec![Value::from(3), Value::from("plum")],
            ),
            (
                "INSERT INTO demo_items VALUES ($1, $2)",
                vec![Value::from(1), Value::from("again")],
            ),
        ])
        .await
        .expect_err("duplicate key");
    assert_eq!(err.kind(), ErrorKind::Integrity);
    println!("kind={:?} code={:?}\n  {err}", err.kind(), err.code());
    let n: i64 = pool.query("SELECT count(*) FROM demo_items", &[]).await?[0].get(0);
    println!("rows after the failed transaction -> {n}");

    println!("\n== Pool status");
    let s = pool.status();
    println!(
        "size={} idle={} in_use={} waiting={} created={} (min {}, max {})",
        s.size, s.idle, s.in_use, s.waiting, s.created, s.min_size, s.max_size
    );
    pool.execute("DROP TABLE demo_items", &[]).await?;
    pool.close().await;
    session.close().await;
    println!("closed: {}", pool.status().closed);
    Ok(())
}
