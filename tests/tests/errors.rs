//! Every row of the SPEC §6 table, produced by a real server error.

use edgepg_tests::PgServer;
use edgepg_tokio::{ErrorKind, Pool};

fn raise(code: &str) -> String {
    format!("DO $$ BEGIN RAISE EXCEPTION 'raised %', '{code}' USING ERRCODE = '{code}'; END $$")
}

#[tokio::test]
async fn sqlstate_classes_map_to_kinds() {
    let pool = Pool::builder(PgServer::shared().url())
        .max_size(2)
        .build()
        .unwrap();
    pool.execute(
        "CREATE TABLE IF NOT EXISTS e_uniq (id int PRIMARY KEY)",
        &[],
    )
    .await
    .unwrap();
    pool.execute("INSERT INTO e_uniq VALUES (1) ON CONFLICT DO NOTHING", &[])
        .await
        .unwrap();
    let cases: Vec<(String, &str, ErrorKind)> = vec![
        ("SELECT 1/0".into(), "22012", ErrorKind::Data),
        ("SELECT 'x'::int".into(), "22P02", ErrorKind::Data),
        (
            "INSERT INTO e_uniq VALUES (1)".into(),
            "23505",
            ErrorKind::Integrity,
        ),
        ("SELEC 1".into(), "42601", ErrorKind::Programming),
        (
            "SELECT * FROM e_missing_table".into(),
            "42P01",
            ErrorKind::Programming,
        ),
        (
            "EXECUTE e_no_such_prepared".into(),
            "26000",
            ErrorKind::Programming,
        ),
        (
            "CLOSE e_no_such_cursor".into(),
            "34000",
            ErrorKind::Programming,
        ),
        (
            "CREATE DATABASE e_x TEMPLATE e_no_such_template".into(),
            "3D000",
            ErrorKind::Programming,
        ),
        (
            "CREATE TABLE e_no_such_schema.t (a int)".into(),
            "3F000",
            ErrorKind::Programming,
        ),
        (
            "SELECT count(*) FROM e_uniq FOR UPDATE".into(),
            "0A000",
            ErrorKind::NotSupported,
        ),
        (
            "SET statement_timeout = 1; SELECT pg_sleep(1)".into(),
            "57014",
            ErrorKind::QueryCanceled,
        ),
        (raise("40001"), "40001", ErrorKind::TransactionRollback),
        (raise("40P01"), "40P01", ErrorKind::TransactionRollback),
        (raise("08006"), "08006", ErrorKind::Operational),
        (raise("28000"), "28000", ErrorKind::Operational),
        (raise("53300"), "53300", ErrorKind::Operational),
        (
            format!("SELECT {}", vec!["1"; 1700].join(",")),
            "54011",
            ErrorKind::Operational,
        ),
        (raise("55P03"), "55P03", ErrorKind::Operational),
        (raise("57P04"), "57P04", ErrorKind::Operational),
        (raise("57P01"), "57P01", ErrorKind::Operational),
        (
            "SELECT pg_read_file('/edgepg/no/such/file')".into(),
            "58P01",
            ErrorKind::Operational,
        ),
        (raise("XX000"), "XX000", ErrorKind::Internal),
        (
            "DO $$ BEGIN RAISE EXCEPTION 'plain raise'; END $$".into(),
            "P0001",
            ErrorKind::Internal,
        ),
        (raise("F0000"), "F0000", ErrorKind::Database),
        (raise("HV000"), "HV000", ErrorKind::Database),
    ];
    for (sql, code, kind) in cases {
        let result = if sql.contains(';') || sql.starts_with("DO") || sql.starts_with("SET") {
            let mut conn = pool.getconn().await.unwrap();
            conn.batch_execute(&sql).await.map(|_| ())
        } else {
            pool.query(&sql, &[]).await.map(|_| ())
        };
        let err = result.expect_err(&sql);
        assert_eq!(err.code(), Some(code), "{sql}: {err}");
        assert_eq!(err.kind(), kind, "{sql}: {err}");
        if sql.starts_with("DO") {
            // The same error through the pool's statement path, where rule 6 applies:
            // a raised connection-class code is not a lost connection.
            let err = pool.query(&sql, &[]).await.expect_err(&sql);
            assert_eq!((err.code(), err.kind()), (Some(code), kind), "{sql}: {err}");
        }
        assert!(!err.to_string().is_empty());
        let _ = pool
            .getconn()
            .await
            .unwrap()
            .batch_execute("RESET statement_timeout")
            .await;
    }
    // Class 25: a statement in a transaction that already failed.
    let mut tx = pool.begin().await.unwrap();
    tx.query("SELECT 1/0", &[]).await.unwrap_err();
    let err = tx.query("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(err.code(), Some("25P02"));
    assert_eq!(err.kind(), ErrorKind::Internal);
    assert_eq!(
        tx.commit().await.unwrap_err().kind(),
        ErrorKind::TransactionRollback
    );
    // The server's fields are kept.
    let err = pool
        .query("SELECT * FROM e_uniq WHERE nope = 1", &[])
        .await
        .unwrap_err();
    assert!(err.position().is_some());
    assert!(err.hint().is_none() || !err.hint().unwrap().is_empty());
    pool.execute("DROP TABLE e_uniq", &[]).await.unwrap();
}

/// Rule 6 on a checked-out connection and in a transaction: a statement whose
/// backend was terminated under it fails with `ConnectionLost`.
#[tokio::test]
async fn terminated_backends_are_connection_lost_on_held_connections() {
    let pool = Pool::builder(PgServer::shared().url())
        .max_size(3)
        .build()
        .unwrap();
    let admin = Pool::new(PgServer::shared().url()).unwrap();
    let terminate = |pid: i32| {
        let admin = admin.clone();
        async move {
            admin
                .execute("SELECT pg_terminate_backend($1)", &[&pid])
                .await
                .unwrap();
        }
    };

    let mut conn = pool.getconn().await.unwrap();
    let pid: i32 = conn.query("SELECT pg_backend_pid()", &[]).await.unwrap()[0].get(0);
    terminate(pid).await;
    let err = conn.query("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionLost, "{err}");
    drop(conn);

    let mut tx = pool.begin().await.unwrap();
    let pid: i32 = tx.query("SELECT pg_backend_pid()", &[]).await.unwrap()[0].get(0);
    terminate(pid).await;
    let err = tx.execute("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionLost, "{err}");
    drop(tx);

    // The pool serves again on a fresh connection.
    let r = pool.query("SELECT 1 AS one", &[]).await.unwrap();
    assert_eq!(r[0].get::<i32, _>("one"), 1);
}

/// §6: the server's fields are kept, and `Display` is one sentence.
#[tokio::test]
async fn server_fields_are_kept() {
    let pool = Pool::new(PgServer::shared().url()).unwrap();
    pool.execute(
        "CREATE TABLE IF NOT EXISTS e_fields (id int PRIMARY KEY, name text NOT NULL)",
        &[],
    )
    .await
    .unwrap();
    let err = pool
        .execute("INSERT INTO e_fields VALUES (1, NULL)", &[])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity);
    assert_eq!(err.code(), Some("23502"));
    assert_eq!(err.table(), Some("e_fields"));
    assert_eq!(err.column(), Some("name"));
    assert!(
        err.detail().is_some_and(|d| d.contains("Failing row")),
        "{err}"
    );
    assert!(
        err.message().contains("null value in column \"name\""),
        "{err}"
    );
    let err = pool
        .query("SELECT nosuchcolumn FROM e_fields", &[])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Programming);
    assert_eq!(err.position(), Some(8));
    let err = pool
        .query(
            "DO $$ BEGIN RAISE EXCEPTION 'x' USING HINT = 'try again'; END $$",
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(err.hint(), Some("try again"));
    let shown = err.to_string();
    assert!(!shown.contains('\n') && shown.ends_with(')'), "{shown}");
    pool.execute("DROP TABLE e_fields", &[]).await.unwrap();
}
