"use strict";
// The Immich stand-in's database login: as Immich does at start, it connects to PostgreSQL with the
// settings nixpkgs' module gives it (DB_URL for the socket, or DB_HOSTNAME/DB_PORT/DB_USERNAME/
// DB_DATABASE_NAME with DB_PASSWORD from the secrets file) and stops when the login is refused. It uses
// psql (on the unit's PATH, as nixpkgs puts postgresql there); the password goes to psql in its
// environment (PGPASSWORD), never as an argument, and is never printed.
const { execFile } = require("child_process");

/** psql's connection environment from Immich's variables; undefined when no database is configured. */
function databaseLogin(env) {
  if (env.DB_URL) {
    const url = new URL(env.DB_URL);
    const login = { PGDATABASE: decodeURIComponent(url.pathname.replace(/^\//, "")) || "immich" };
    const host = url.searchParams.get("host") || url.hostname;
    if (host) login.PGHOST = host;
    if (url.port) login.PGPORT = url.port;
    if (url.username) login.PGUSER = decodeURIComponent(url.username);
    if (url.password) login.PGPASSWORD = decodeURIComponent(url.password);
    return { login, where: `${login.PGDATABASE} on ${host || "the default socket"}` };
  }
  if (!env.DB_HOSTNAME) return undefined;
  const login = {
    PGHOST: env.DB_HOSTNAME, PGPORT: env.DB_PORT || "5432",
    PGUSER: env.DB_USERNAME || "postgres", PGDATABASE: env.DB_DATABASE_NAME || "immich",
  };
  if (env.DB_PASSWORD !== undefined) login.PGPASSWORD = env.DB_PASSWORD;
  return { login, where: `${login.PGDATABASE} on ${login.PGHOST}:${login.PGPORT} as ${login.PGUSER}` };
}

/** One login attempt: resolves with the role PostgreSQL says it is, rejects with psql's message. */
function loginOnce(login, env) {
  const childEnv = { PATH: env.PATH || "/usr/bin:/bin", PGCONNECT_TIMEOUT: "5", PGAPPNAME: "immich-standin", ...login };
  return new Promise((resolve, reject) => {
    execFile("psql", ["--no-psqlrc", "--quiet", "--tuples-only", "--no-align", "-v", "ON_ERROR_STOP=1",
      "--command", "SELECT current_user"], { env: childEnv, timeout: 15000 }, (err, stdout, stderr) => {
      if (err) reject(new Error((stderr || err.message).trim()));
      else resolve(stdout.trim());
    });
  });
}

/** A refusal that retrying does not change (a wrong password, a missing role or database). */
function isRefusal(message) {
  return /authentication failed|does not exist|no pg_hba\.conf entry|permission denied/.test(message);
}

/**
 * Logs in, retrying while PostgreSQL is not (yet) accepting connections; a refusal ends at once.
 * `write` gets progress lines (never the password: psql's messages do not hold it).
 */
async function connectDatabase(env, write, attempts = 20) {
  const target = databaseLogin(env);
  if (!target) return undefined;
  let last = "";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const role = await loginOnce(target.login, env);
      write(`immich stand-in: connected to PostgreSQL (${target.where}, role ${role})\n`);
      return role;
    } catch (err) {
      last = err.message;
      if (isRefusal(last)) break;
      write(`immich stand-in: PostgreSQL not reachable yet (${target.where}): ${last.split("\n")[0]}\n`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
  throw new Error(`cannot log in to PostgreSQL (${target.where}): ${last}`);
}

module.exports = { connectDatabase, databaseLogin, isRefusal };
