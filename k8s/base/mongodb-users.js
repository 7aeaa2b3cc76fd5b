// Run by the mongo image once, when its data volume is new (/docker-entrypoint-initdb.d), for
// Kubernetes and compose alike: one user per REELFLUX service, limited to its own database,
// and the worker (it runs ffmpeg on untrusted files) only to the collections it reads and
// writes. Passwords are the files `npm run deploy:keys` writes, mounted as secrets.
const fs = require('fs');

const dir = process.env.REELFLUX_KEYS_DIR || '/run/secrets';
const prefix = process.env.DB_PREFIX || 'reelflux_';
const password = (user) => fs.readFileSync(`${dir}/mongodb-${user}.password`, 'utf8').trim();
const admin = db.getSiblingDB('admin');

for (const service of ['auth', 'media', 'conversion', 'notification']) {
  admin.createUser({
    user: service,
    pwd: password(service),
    roles: [{ role: 'readWrite', db: `${prefix}${service}` }],
  });
}

// The worker updates conversion records, reads a video's GridFS file (following it while it is
// uploaded: the upload's marker, then the record with its size and sha256), writes its MP3's,
// and holds room for an MP3 in the making against its owner's storage quota.
const on = (service, collection, actions) => ({
  resource: { db: `${prefix}${service}`, collection },
  actions,
});
const writeFiles = ['find', 'insert', 'remove', 'createIndex', 'listIndexes'];
admin.createRole({
  role: 'reelfluxWorker',
  privileges: [
    on('conversion', 'conversions', ['find', 'update', 'createIndex']),
    on('media', 'videos.files', ['find']),
    on('media', 'videos.chunks', ['find']),
    on('media', 'uploads_in_progress', ['find']),
    on('media', 'videos', ['find']),
    on('media', 'audio.files', writeFiles),
    on('media', 'audio.chunks', writeFiles),
    on('media', 'storage_reservations', [...writeFiles, 'update']),
  ],
  roles: [],
});
admin.createUser({
  user: 'worker',
  pwd: password('worker'),
  roles: [{ role: 'reelfluxWorker', db: 'admin' }],
});
