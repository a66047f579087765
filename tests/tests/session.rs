//! Session and Results against a real PostgreSQL (issue 2).

use edgepg_tests::PgServer;
use edgepg_tokio::{Config, ErrorKind, Pool, Session, Value};

fn session() -> Session {
    Session::new(PgServer::shared().url()).expect("valid URL")
}

#[tokio::test]
async fn select_one_as_dict() {
    let r = session().query("SELECT 1 AS value", &[]).await.unwrap();
    let d = r.as_dict().unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d["value"], Value::Int(1));
    assert_eq!(r.status(), "SELECT 1");
    assert_eq!(r.query(), "SELECT 1 AS value");
    assert_eq!(r.columns()[0].name(), "value");
    assert_eq!(r.columns()[0].type_name(), "int4");
}

#[tokio::test]
async fn as_dict_is_empty_for_no_rows_and_an_error_for_many() {
    let s = session();
    let none = s.query("SELECT 1 AS v WHERE false", &[]).await.unwrap();
    assert!(none.as_dict().unwrap().is_empty());
    let many = s
        .query("SELECT generate_series(1, 2) AS v", &[])
        .await
        .unwrap();
    assert_eq!(many.as_dict().unwrap_err().kind(), ErrorKind::Interface);
}

#[tokio::test]
async fn multi_row_navigation_agrees() {
    let mut r = session()
        .query(
            "SELECT g AS n, 'row ' || g AS label FROM generate_series(1, 5) g ORDER BY g",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.len(), 5);
    assert_eq!(r.count(), 5);
    assert_eq!(r.status(), "SELECT 5");
    let via_iter: Vec<i32> = r.iter().map(|row| row.get("n")).collect();
    assert_eq!(via_iter, vec![1, 2, 3, 4, 5]);
    for (i, n) in via_iter.iter().enumerate() {
        assert_eq!(r[i].get::<i32, _>(0), *n);
        assert_eq!(
            r.get(i).unwrap().get::<String, _>("label"),
            format!("row {n}")
        );
    }
    assert!(r.get(5).is_none());
    assert_eq!(r.rownumber(), 0);
    assert_eq!(r.fetchone().unwrap().get::<i32, _>("n"), 1);
    assert_eq!(r.rownumber(), 1);
    let two: Vec<i32> = r.fetchmany(2).iter().map(|row| row.get("n")).collect();
    assert_eq!(two, vec![2, 3]);
    assert_eq!(r.rownumber(), 3);
    let rest: Vec<i32> = r.fetchall().iter().map(|row| row.get("n")).collect();
    assert_eq!(rest, vec![4, 5]);
    assert_eq!(r.rownumber(), 5);
    assert!(r.fetchone().is_none());
    assert!(r.fetchmany(3).is_empty());
    r.scroll(-2).unwrap();
    assert_eq!(r.fetchone().unwrap().get::<i32, _>("n"), 4);
    assert!(r.scroll(10).is_err());
    r.scroll_to(0).unwrap();
    assert_eq!(r.fetchall().len(), 5);
    let labels: Vec<String> = r.into_iter().map(|row| row.get("label")).collect();
    assert_eq!(labels.len(), 5);
}

#[tokio::test]
async fn callproc_resolves_overloads_and_returns_results() {
    let s = session();
    let r = s.callproc("mod", &[&6i32, &4i32]).await.unwrap();
    assert_eq!(r[0].get::<i32, _>(0), 2);
    let r = s
        .callproc("mod", &[&Value::from(6), &Value::from(4)])
        .await
        .unwrap();
    assert_eq!(r[0].values()[0], Value::Int(2));
    let r = s.callproc("to_timestamp", &[&0i32]).await.unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(
        r[0].values()[0],
        Value::TimestampTz("1970-01-01 00:00:00+00".into())
    );
    let r = s.callproc("pg_catalog.mod", &[&7i64, &4i64]).await.unwrap();
    assert_eq!(r[0].get::<i64, _>(0), 3);
    let err = s.callproc("no_such_function", &[&1i32]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Programming);
    assert_eq!(err.code(), Some("42883"));
}

#[tokio::test]
async fn execute_counts_rows_and_transaction_rolls_back() {
    let pool = Pool::new(PgServer::shared().url()).unwrap();
    pool.execute("CREATE TABLE IF NOT EXISTS s_tx (id int PRIMARY KEY)", &[])
        .await
        .unwrap();
    pool.execute("TRUNCATE s_tx", &[]).await.unwrap();
    let n = pool
        .execute("INSERT INTO s_tx SELECT generate_series(1, 3)", &[])
        .await
        .unwrap();
    assert_eq!(n, 3);
    let err = pool
        .transaction([
            ("INSERT INTO s_tx VALUES ($1)", vec![Value::from(10)]),
            ("INSERT INTO s_tx VALUES ($1)", vec![Value::from(1)]),
        ])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity);
    assert_eq!(err.constraint(), Some("s_tx_pkey"));
    let count: i64 = pool.query("SELECT count(*) FROM s_tx", &[]).await.unwrap()[0].get(0);
    assert_eq!(count, 3, "the failed transaction left nothing behind");
    let out = pool
        .transaction([(
            "INSERT INTO s_tx VALUES ($1) RETURNING id",
            vec![Value::from(11)],
        )])
        .await
        .unwrap();
    assert_eq!(out[0][0].get::<i32, _>("id"), 11);
    let mut tx = pool.begin().await.unwrap();
    tx.execute("INSERT INTO s_tx VALUES (12)", &[])
        .await
        .unwrap();
    drop(tx);
    let count: i64 = pool
        .query("SELECT count(*) FROM s_tx WHERE id = 12", &[])
        .await
        .unwrap()[0]
        .get(0);
    assert_eq!(count, 0, "a dropped transaction rolls back");
    pool.execute("DROP TABLE s_tx", &[]).await.unwrap();
}

#[tokio::test]
async fn parameters_are_checked() {
    let s = session();
    let err = s.query("SELECT $1::int", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Interface);
    assert!(err.to_string().contains("1 parameter"), "{err}");
    let err = s
        .query("SELECT $1::int, $2::int", &[&1i32, &"not a number"])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Interface, "{err}");
    assert!(err.to_string().contains("parameter $2"), "{err}");
    let err = s
        .query("SELECT $1::int2", &[&Value::Int(1 << 20)])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("out of range"), "{err}");
    assert!(err.to_string().contains("parameter $1"), "{err}");
    // Dynamic values adapt to the inferred type, or go as text for the server to parse.
    let r = s
        .query(
            "SELECT $1::int8 AS a, $2::numeric AS b, $3::date AS c",
            &[
                &Value::Int(5),
                &Value::Numeric("1.50".into()),
                &Value::Text("2024-02-29".into()),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        r[0].values(),
        &[
            Value::Int(5),
            Value::Numeric("1.50".into()),
            Value::Date("2024-02-29".into())
        ]
    );
}

#[tokio::test]
async fn session_helpers() {
    let s = session();
    assert_eq!(s.encoding(), "UTF8");
    s.set_encoding("utf-8").unwrap();
    assert_eq!(
        s.set_encoding("LATIN1").unwrap_err().kind(),
        ErrorKind::NotSupported
    );
    s.validate().await.unwrap();
    assert!(s.backend_pid().await.unwrap() > 0);
    s.execute("DO $$ BEGIN RAISE NOTICE 'hello from plpgsql'; END $$", &[])
        .await
        .unwrap();
    assert!(
        s.notices().iter().any(|n| n.contains("hello from plpgsql")),
        "{:?}",
        s.notices()
    );
    // Sessions for the same URL share one pool.
    let other = Session::new(PgServer::shared().url()).unwrap();
    assert_eq!(s.pid(), other.pid());
}

#[tokio::test]
async fn rows_serialize_and_deserialize() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Item {
        id: i64,
        name: String,
        tags: Vec<String>,
    }
    let r = session()
        .query(
            "SELECT 1::int8 AS id, 'pen' AS name, ARRAY['a','b'] AS tags",
            &[],
        )
        .await
        .unwrap();
    let items: Vec<Item> = r.deserialize().unwrap();
    assert_eq!(
        items,
        vec![Item {
            id: 1,
            name: "pen".into(),
            tags: vec!["a".into(), "b".into()]
        }]
    );
    let json = serde_json::to_value(&r[0]).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"id": 1, "name": "pen", "tags": ["a", "b"]})
    );

    // Values follow the field types.
    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Mood {
        Happy,
        Sad,
    }
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Meta {
        color: String,
        size: u8,
    }
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Wide {
        price: f64,
        exact: String,
        count: i32,
        small: u8,
        data: Vec<u8>,
        missing: Option<f64>,
        present: Option<String>,
        mood: Mood,
        meta: Meta,
        at: String,
        id: uuid_string::Id,
        nested: Vec<Vec<i32>>,
    }
    mod uuid_string {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        pub struct Id(pub String);
    }
    let r = session()
        .query(
            "SELECT 12.50::numeric AS price, 12.50::numeric AS exact, 7::numeric AS count, \
             3::int2 AS small, '\\x00ff'::bytea AS data, NULL::numeric AS missing, \
             'here'::text AS present, 'happy' AS mood, '{\"color\": \"red\", \"size\": 2}'::jsonb AS meta, \
             '2024-01-02 03:04:05+00'::timestamptz AS at, \
             'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS id, ARRAY[[1, 2], [3, 4]] AS nested",
            &[],
        )
        .await
        .unwrap();
    let wide: Vec<Wide> = r.deserialize().unwrap();
    assert_eq!(
        wide,
        vec![Wide {
            price: 12.5,
            exact: "12.50".into(),
            count: 7,
            small: 3,
            data: vec![0, 255],
            missing: None,
            present: Some("here".into()),
            mood: Mood::Happy,
            meta: Meta {
                color: "red".into(),
                size: 2
            },
            at: "2024-01-02 03:04:05+00".into(),
            id: uuid_string::Id("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into()),
            nested: vec![vec![1, 2], vec![3, 4]],
        }]
    );
    // Tuples by position; mismatches are clear errors.
    let pairs: Vec<(i32, String)> = session()
        .query("SELECT 1 AS a, 'x'::text AS b", &[])
        .await
        .unwrap()
        .deserialize()
        .unwrap();
    assert_eq!(pairs, vec![(1, "x".to_string())]);
    let err = session()
        .query("SELECT 'x'::text AS count", &[])
        .await
        .unwrap()
        .deserialize::<Wide>()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Interface);
    assert!(err.to_string().contains("cannot deserialize"), "{err}");
    let err = session()
        .query("SELECT 1.5::numeric AS small", &[])
        .await
        .unwrap()
        .deserialize::<std::collections::HashMap<String, u8>>()
        .unwrap_err();
    assert!(err.to_string().contains("numeric 1.5"), "{err}");
}

#[tokio::test]
async fn config_from_env_and_unix_socket() {
    let pg = PgServer::shared();
    let Some(dir) = pg.socket_dir() else { return };
    let url = format!(
        "host={} port={} user=postgres dbname=postgres",
        dir.display(),
        pg.port()
    );
    std::env::set_var("PGSQL_EDGEPG_UNIX_TEST", &url);
    let config = Config::from_env(Some("edgepg_unix_test")).unwrap();
    let session = Session::new(config).unwrap();
    let r = session
        .query("SELECT inet_server_addr() IS NULL AS via_unix_socket", &[])
        .await
        .unwrap();
    assert!(r[0].get::<bool, _>(0), "connected over the Unix socket");
    let session = Session::from_env(Some("EDGEPG_UNIX_TEST")).unwrap();
    assert_eq!(
        session.query("SELECT 2 AS two", &[]).await.unwrap()[0].get::<i32, _>(0),
        2
    );
}

/// The forms SPEC §3 and §5 write: `transaction` with plain SQL strings or
/// `(sql, params)` pairs, and `cursor` / `listen` on a Session, the cursor
/// used directly as a stream.
#[tokio::test]
async fn spec_forms_of_transaction_cursor_and_listen() {
    use futures_util::{StreamExt, TryStreamExt};
    let s = session();
    s.execute(
        "CREATE TABLE IF NOT EXISTS s_forms (id int PRIMARY KEY)",
        &[],
    )
    .await
    .unwrap();
    let out = s
        .transaction([
            "DELETE FROM s_forms",
            "INSERT INTO s_forms VALUES (1), (2)",
            "SELECT count(*)::int AS n FROM s_forms",
        ])
        .await
        .unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(out[2][0].get::<i32, _>("n"), 2);
    let params = [Value::from(3)];
    let out = s
        .transaction([("INSERT INTO s_forms VALUES ($1) RETURNING id", &params[..])])
        .await
        .unwrap();
    assert_eq!(out[0][0].get::<i32, _>("id"), 3);
    let out = s
        .transaction([(
            "INSERT INTO s_forms VALUES ($1) RETURNING id",
            [Value::from(4)],
        )])
        .await
        .unwrap();
    assert_eq!(out[0][0].get::<i32, _>("id"), 4);
    let n = s.execute("DELETE FROM s_forms", &[]).await.unwrap();
    assert_eq!(n, 4);

    // A cursor is a stream without awaiting it first.
    let ids: Vec<i32> = s
        .cursor("SELECT g FROM generate_series(1, 25) g", &[], 4)
        .map_ok(|row| row.get::<i32, _>(0))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids, (1..=25).collect::<Vec<_>>());
    // A statement that fails to declare is the stream's first item, then it ends.
    let mut broken = s.cursor("SELEC nothing", &[], 4);
    let first = broken.next().await.unwrap().unwrap_err();
    assert_eq!(first.kind(), ErrorKind::Programming);
    assert!(broken.next().await.is_none());
    // Awaited, the cursor reports the same error before any row.
    let err = s.cursor("SELEC nothing", &[], 4).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Programming);

    let mut events = s.listen("s_forms_events").await.unwrap();
    s.execute("NOTIFY s_forms_events, 'ready'", &[])
        .await
        .unwrap();
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), events.try_next())
        .await
        .expect("the notification arrives")
        .unwrap()
        .unwrap();
    assert_eq!(
        (n.channel.as_str(), n.payload.as_str()),
        ("s_forms_events", "ready")
    );
}

/// Notices raised inside a Session's explicit transaction are the Session's.
#[tokio::test]
async fn notices_of_a_session_transaction_reach_the_session() {
    let s = session();
    let mut tx = s.begin().await.unwrap();
    tx.execute(
        "DO $$ BEGIN RAISE NOTICE 'inside the transaction'; END $$",
        &[],
    )
    .await
    .unwrap();
    assert!(
        s.notices()
            .iter()
            .any(|n| n.contains("inside the transaction")),
        "{:?}",
        s.notices()
    );
    tx.commit().await.unwrap();
}

/// Several statements in one text without parameters run as a script (as
/// psycopg2 and node-postgres do) and give the last statement's results,
/// through the pool, a checked-out connection and a transaction.
#[tokio::test]
async fn scripts_of_several_statements_give_the_last_results() {
    let s = session();
    let r = s
        .query(
            "DROP TABLE IF EXISTS s_script; CREATE TABLE s_script (n int);
             INSERT INTO s_script VALUES (1), (2); SELECT sum(n)::int AS total FROM s_script;",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r[0].get::<i32, _>("total"), 3);
    assert_eq!(r.status(), "SELECT 1");
    let n = s
        .execute(
            "UPDATE s_script SET n = n + 1; DELETE FROM s_script WHERE n = 3",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    // A broken script runs nothing: the simple protocol parses it whole first.
    let err = s
        .query("INSERT INTO s_script VALUES (9); SELEC 1", &[])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Programming);
    assert_eq!(err.code(), Some("42601"));
    let pool = s.pool();
    let mut conn = pool.getconn().await.unwrap();
    let r = conn
        .query(
            "SET application_name = 'script'; SHOW application_name",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r[0].get::<&str, _>(0), "script");
    drop(conn);
    let mut tx = pool.begin().await.unwrap();
    tx.execute(
        "INSERT INTO s_script VALUES (10); INSERT INTO s_script VALUES (11)",
        &[],
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    let left: Vec<i32> = s
        .query("SELECT n FROM s_script ORDER BY n", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left, vec![2]);
    // A transaction opened with SQL on a checked-out connection and left open
    // is rolled back when the connection goes back (rule 10).
    let one = Pool::builder(PgServer::shared().url())
        .max_size(1)
        .build()
        .unwrap();
    let mut conn = one.getconn().await.unwrap();
    conn.execute("BEGIN", &[]).await.unwrap();
    conn.execute("INSERT INTO s_script VALUES (20)", &[])
        .await
        .unwrap();
    drop(conn);
    let mut conn = one.getconn().await.unwrap();
    let r = conn
        .query("SELECT count(*)::int AS n FROM s_script WHERE n = 20", &[])
        .await
        .unwrap();
    assert_eq!(
        r[0].get::<i32, _>("n"),
        0,
        "the abandoned insert was rolled back"
    );
    drop(conn);
    s.execute("DROP TABLE s_script", &[]).await.unwrap();
}
