//! SPEC §3 written out as a user reads it: every call of the Rust API block,
//! in the form the SPEC shows, against a real PostgreSQL. A name or
//! signature that drifts from the contract stops this file compiling.

use std::time::Duration;

use futures_util::TryStreamExt;

use edgepg_tests::PgServer;
use edgepg_tokio::{Config, Error, ErrorKind, Pool, PoolStatus, Results, Row, Session, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_api_block_of_spec_section_3() {
    let url = PgServer::shared().url();

    // Config: URL, key=value DSN, environment.
    let config = Config::parse(&url).unwrap();
    assert!(Config::parse("host=h port=5432 dbname=db").is_ok());
    std::env::set_var("PGSQL_SPEC_SURFACE", &url);
    let from_env = Config::from_env(Some("spec_surface")).unwrap();
    assert_eq!(from_env.get_dbname(), config.get_dbname());

    let d = Duration::from_secs(30);
    let pool: Pool = Pool::builder(url.as_str())
        .min_size(1)
        .max_size(25)
        .acquire_timeout(d)
        .idle_timeout(d)
        .max_lifetime(d)
        .reconnect_interval(Duration::from_millis(500))
        .setsession(["SET TIME ZONE 'UTC'"])
        .ping_on_checkout(false)
        .raise_connect_errors(true)
        .build()
        .unwrap();
    let _from_config: Pool = Pool::builder(config).build().unwrap();
    pool.connect().await.unwrap();

    let one = 1i32;
    let results: Results = pool.query("SELECT $1::int AS n", &[&one]).await.unwrap();
    let affected: u64 = pool
        .execute("SELECT generate_series(1, 3)", &[])
        .await
        .unwrap();
    assert_eq!(affected, 3);
    let called: Results = pool.callproc("mod", &[&7i32, &4i32]).await.unwrap();
    assert_eq!(called[0].get::<i32, _>(0), 3);
    let all: Vec<Results> = pool.transaction(["SELECT 1", "SELECT 2"]).await.unwrap();
    assert_eq!(all.len(), 2);
    let mut tx = pool.begin().await.unwrap();
    tx.query("SELECT 1", &[]).await.unwrap();
    tx.execute("SELECT 1", &[]).await.unwrap();
    tx.savepoint("a").await.unwrap();
    tx.rollback_to("a").await.unwrap();
    tx.commit().await.unwrap();
    // A ROLLBACK TO SAVEPOINT sent as a statement also saves the transaction.
    let mut tx = pool.begin().await.unwrap();
    tx.execute("SAVEPOINT b", &[]).await.unwrap();
    assert!(tx.execute("SELECT 1 / 0", &[]).await.is_err());
    tx.execute("ROLLBACK TO SAVEPOINT b", &[]).await.unwrap();
    tx.commit().await.unwrap();
    pool.begin().await.unwrap().rollback().await.unwrap();
    let sql: String = pool.mogrify("SELECT $1", &[&"it's"]).unwrap();
    assert_eq!(sql, "SELECT 'it''s'");
    let conn = pool.getconn().await.unwrap();
    pool.putconn(conn);
    let rows: Vec<Row> = pool
        .cursor("SELECT generate_series(1, 10)", &[], 3)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rows.len(), 10);
    let mut events = pool.listen("spec_surface").await.unwrap();
    pool.execute("NOTIFY spec_surface, 'hi'", &[])
        .await
        .unwrap();
    let n = tokio::time::timeout(Duration::from_secs(10), events.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(n.payload, "hi");
    let status: PoolStatus = pool.status();
    let _ = (
        status.size,
        status.idle,
        status.in_use,
        status.pending,
        status.waiting,
    );

    // Results and Row.
    let mut r = pool
        .query("SELECT generate_series(1, 3) AS n", &[])
        .await
        .unwrap();
    assert_eq!((r.len(), r.is_empty()), (3, false));
    assert_eq!(r.iter().count(), 3);
    assert!(r.get(0).is_some());
    assert_eq!(r[0].get::<i32, _>("n"), 1);
    assert!(r.as_dict().is_err());
    assert_eq!(r.items().len(), 3);
    assert_eq!((r.count(), r.status()), (3, "SELECT 3"));
    assert_eq!(r.query(), "SELECT generate_series(1, 3) AS n");
    assert_eq!(r.columns()[0].name(), "n");
    assert!(r.fetchone().is_some());
    assert_eq!(r.fetchmany(1).len(), 1);
    assert_eq!(r.rownumber(), 2);
    r.scroll(-2).unwrap();
    assert_eq!(r.fetchall().len(), 3);
    #[derive(serde::Deserialize)]
    struct N {
        n: i32,
    }
    let ns: Vec<N> = r.deserialize().unwrap();
    assert_eq!(ns.iter().map(|x| x.n).sum::<i32>(), 6);
    let row: &Row = &r[1];
    assert_eq!(row.try_get::<i32, _>(0).unwrap(), 2);
    assert_eq!(row.value("n"), Some(&Value::Int(2)));
    assert!(serde_json::to_string(row).is_ok());
    r.free();
    let single = results.as_dict().unwrap();
    assert_eq!(single["n"], Value::Int(1));

    // Session.
    let session: Session = Session::new(url.as_str()).unwrap();
    let _env: Session = Session::from_env(Some("spec_surface")).unwrap();
    let _from_pool: Session = Session::from_pool(pool.clone());
    session.query("SELECT 1", &[]).await.unwrap();
    session.execute("SELECT 1", &[]).await.unwrap();
    session.callproc("lower", &[&"A"]).await.unwrap();
    session.transaction(["SELECT 1"]).await.unwrap();
    session.begin().await.unwrap().commit().await.unwrap();
    session.mogrify("SELECT $1", &[&1i32]).unwrap();
    let n = session
        .cursor("SELECT generate_series(1, 4)", &[], 2)
        .try_collect::<Vec<Row>>()
        .await
        .unwrap()
        .len();
    assert_eq!(n, 4);
    drop(session.listen("spec_surface_session").await.unwrap());
    assert!(session.backend_pid().await.unwrap() > 0);
    assert_eq!(session.encoding(), "UTF8");
    session.set_encoding("UTF8").unwrap();
    let _notices: Vec<String> = session.notices();
    assert!(!session.pid().is_empty());
    session.validate().await.unwrap();
    session.close().await;

    // Errors.
    let err: Error = pool.query("SELEC", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Programming);
    assert_eq!(err.code(), Some("42601"));
    pool.close().await;
    let err = pool.query("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PoolClosed);
}
