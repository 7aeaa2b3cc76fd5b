// The initiate sidecar of each MongoDB member (k8s/overlays/production), run by
// `mongosh --nodb`. On member 0 it initiates the replica set once: when its own mongod runs
// with --replSet and has no set configuration yet, and members 1 and 2 answer without belonging
// to a set. Anything else it leaves alone, so restarts, and member 0 rejoining a set after
// losing its volume, change nothing. Members 1 and 2 have nothing to do.
/* global Mongo, print, sleep */
const fs = require('fs');

const SET = 'reelflux';
const MEMBERS = [0, 1, 2].map((n) => `mongodb-${n}.mongodb.reelflux.svc.cluster.local:27017`);
const NOT_YET_INITIALIZED = 94;
const RETRY_MS = 5000;

/** The command's reply, or its error as a reply: mongosh throws on `ok: 0`. */
function run(db, command) {
  try {
    return db.runCommand(command);
  } catch (error) {
    return { ok: 0, code: error.code, errmsg: error.message };
  }
}

function withConnection(host, use) {
  const connection = new Mongo(
    `mongodb://${host}/?directConnection=true&serverSelectionTimeoutMS=3000`,
  );
  try {
    return use(connection.getDB('admin'));
  } finally {
    connection.close();
  }
}

/** 'done', 'wait' (try again later), or 'refuse' (another set exists: for an operator). */
function attempt() {
  return withConnection('127.0.0.1:27017', (admin) => {
    // The users exist before the set does (the image made them first), so this needs a login.
    // Until the real mongod runs, this fails or the status below is not NOT_YET_INITIALIZED.
    admin.auth('root', fs.readFileSync('/run/secrets/mongodb-root.password', 'utf8').trim());
    const status = run(admin, { replSetGetStatus: 1 });
    if (status.ok) return 'done';
    if (status.code !== NOT_YET_INITIALIZED) return 'wait';
    for (const host of MEMBERS.slice(1)) {
      const hello = withConnection(host, (peer) => run(peer, { hello: 1 }));
      if (!hello.ok) return 'wait';
      if (hello.setName) {
        print(`${host} already belongs to the set ${hello.setName}: not initiating`);
        return 'refuse';
      }
    }
    const reply = run(admin, {
      replSetInitiate: { _id: SET, members: MEMBERS.map((host, _id) => ({ _id, host })) },
    });
    if (reply.ok) return 'done';
    print(`replSetInitiate failed, retrying: ${reply.errmsg}`);
    return 'wait';
  });
}

if ((process.env.HOSTNAME || '').endsWith('-0')) {
  for (;;) {
    let outcome;
    try {
      outcome = attempt();
    } catch {
      outcome = 'wait'; // mongod starting, the image's setup still running, a member unreachable
    }
    if (outcome === 'done') {
      print(`replica set ${SET} is initiated`);
      break;
    }
    if (outcome === 'refuse') break;
    sleep(RETRY_MS);
  }
}
