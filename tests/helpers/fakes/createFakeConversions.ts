import { ObjectId } from 'mongodb';
import { ConversionErrorCode } from '../../../lib/contracts/errorCodes.js';
import {
  newConversionRecord,
  takenByRun,
  type ConversionRecord,
  type Conversions,
} from '../../../lib/stores/conversions.js';

/** The in-memory store, with its records open to tests (to set up and to look at). */
export interface FakeConversions extends Conversions {
  records: Map<string, ConversionRecord>;
  /** The record as stored now (a copy), or undefined. */
  get(id: ObjectId | string): ConversionRecord | undefined;
}

/**
 * Conversions in memory, with the Mongo store's compare-and-set semantics: each change matches
 * on the same state (and run) as lib/stores/conversions.ts and returns the record after it,
 * or null when nothing matched. Records are copied in and out, as a database would.
 */
export function createFakeConversions(): FakeConversions {
  const records = new Map<string, ConversionRecord>();
  const key = (id: ObjectId | string) => (typeof id === 'string' ? id : id.toHexString());
  const copy = (record: ConversionRecord | undefined) => (record ? { ...record } : undefined);
  /** Applies `change` to the record if `matches`; the record after it, or null. */
  const update = (
    id: ObjectId,
    matches: (record: ConversionRecord) => boolean,
    change: (record: ConversionRecord) => Partial<ConversionRecord>,
  ): Promise<ConversionRecord | null> => {
    const record = records.get(key(id));
    if (!record || !matches(record)) return Promise.resolve(null);
    const after = { ...record, ...change(record) };
    records.set(key(id), after);
    return Promise.resolve({ ...after });
  };
  const all = () => [...records.values()];
  const oldestFirst = (a: ConversionRecord, b: ConversionRecord) =>
    a.queuedAt.getTime() - b.queuedAt.getTime() ||
    a._id.toHexString().localeCompare(b._id.toHexString());
  const active = (r: ConversionRecord) => r.status === 'QUEUED' || r.status === 'RUNNING';
  const waiting = (r: ConversionRecord) =>
    r.status === 'QUEUED' && r.jobSentAt === null && r.awaitingUpload !== true;
  const ownedBy = (runId: string) => (r: ConversionRecord) =>
    r.runId === runId && r.status === 'RUNNING';
  const backToQueued =
    (message: string, fields: Partial<ConversionRecord>, giveAttemptBack: boolean) =>
    (r: ConversionRecord) => ({
      status: 'QUEUED' as const,
      progress: null,
      runId: null,
      error: { code: ConversionErrorCode.RETRYING, message },
      attempts: r.attempts - (giveAttemptBack ? 1 : 0),
      ...fields,
    });

  const api: FakeConversions = {
    records,
    get: (id) => copy(records.get(key(id))),
    create(fields) {
      const existing = records.get(key(fields.id));
      if (existing) return Promise.resolve({ ...existing });
      const record = newConversionRecord(fields);
      records.set(key(fields.id), record);
      return Promise.resolve({ ...record });
    },
    findOwned: (id, owner) => {
      const record = records.get(id);
      return Promise.resolve(record?.owner === owner ? { ...record } : null);
    },
    runOf: (id) => {
      const record = records.get(key(id));
      return Promise.resolve(
        record ? { status: record.status, runId: record.runId, audioId: record.audioId } : null,
      );
    },
    pageForVideo(videoId, owner, first, after) {
      const found = all()
        .filter((r) => r.videoId === videoId && r.owner === owner)
        .sort((a, b) => oldestFirst(b, a));
      const from = after === undefined ? 0 : found.findIndex((r) => api.cursor(r) === after) + 1;
      const page = found.slice(from, from + first);
      return Promise.resolve({ records: page, hasNextPage: found.length > from + first });
    },
    cursor: (record) => record._id.toHexString(),
    forVideo: (videoId) => Promise.resolve(all().filter((r) => r.videoId === videoId)),
    removeForVideo(videoId) {
      for (const r of all()) if (r.videoId === videoId) records.delete(key(r._id));
      return Promise.resolve();
    },
    take: (id, runId, takeOver) =>
      update(
        id,
        (r) => r.status === 'QUEUED' || (takeOver && r.status === 'RUNNING'),
        (r) => ({ ...takenByRun(runId), attempts: r.attempts + 1 }),
      ),
    describeSource: async (id, runId, audioStreams) =>
      (await update(id, ownedBy(runId), () => ({ audioStreams }))) !== null,
    progress: async (id, runId, progress) =>
      (await update(id, ownedBy(runId), () => ({ progress, heartbeatAt: new Date() }))) !== null,
    succeed: (id, runId, audioId) =>
      update(id, ownedBy(runId), () => ({
        status: 'SUCCEEDED',
        progress: 1,
        audioId,
        finishedAt: new Date(),
        runId: null,
        finishAnnounced: false,
      })),
    fail: (id, runId, code, message) =>
      update(id, ownedBy(runId), () => ({
        status: 'FAILED',
        error: { code, message },
        finishedAt: new Date(),
        runId: null,
        finishAnnounced: false,
      })),
    requeue: (id, runId, message, options = {}) =>
      update(
        id,
        ownedBy(runId),
        backToQueued(message, { jobSentAt: new Date() }, options.giveAttemptBack === true),
      ),
    awaitUpload: (id, runId, message) =>
      update(
        id,
        ownedBy(runId),
        backToQueued(message, { jobSentAt: null, awaitingUpload: true }, true),
      ),
    uploadEnded(videoId) {
      const set = all().filter(
        (r) => r.videoId === videoId && r.status === 'QUEUED' && r.awaitingUpload === true,
      );
      for (const r of set) records.set(key(r._id), { ...r, awaitingUpload: false });
      return Promise.resolve([...new Set(set.map((r) => r.owner))]);
    },
    async reclaimSilent(cutoff) {
      const silent = all().find(
        (r) => r.status === 'RUNNING' && r.heartbeatAt !== null && r.heartbeatAt < cutoff,
      );
      if (!silent) return null;
      return update(
        silent._id,
        (r) =>
          r.status === 'RUNNING' &&
          r.runId === silent.runId &&
          r.heartbeatAt === silent.heartbeatAt,
        () => ({
          status: 'QUEUED',
          progress: null,
          runId: null,
          jobSentAt: null,
          error: { code: ConversionErrorCode.RETRYING, message: 'Its worker stopped responding' },
        }),
      );
    },
    undispatched: (owner, limit) =>
      Promise.resolve(
        all()
          .filter((r) => r.owner === owner && waiting(r))
          .sort(oldestFirst)
          .slice(0, limit),
      ),
    ownersWaiting: () =>
      Promise.resolve([
        ...new Set(
          all()
            .filter(waiting)
            .map((r) => r.owner),
        ),
      ]),
    sentBefore: (cutoff) =>
      Promise.resolve(
        all().filter((r) => r.status === 'QUEUED' && r.jobSentAt !== null && r.jobSentAt < cutoff),
      ),
    countDispatched: (owner) =>
      Promise.resolve(
        all().filter((r) => r.owner === owner && active(r) && r.jobSentAt !== null).length,
      ),
    countActive: (owner) =>
      Promise.resolve(all().filter((r) => r.owner === owner && active(r)).length),
    countForVideo: (videoId) => Promise.resolve(all().filter((r) => r.videoId === videoId).length),
    async withdraw(id) {
      const record = records.get(key(id));
      if (record?.jobSentAt === null) {
        records.delete(key(id));
        return null;
      }
      return api.cancel(id);
    },
    async markSent(id, jobSentAt) {
      await update(
        id,
        () => true,
        () => ({ jobSentAt }),
      );
    },
    cancel: (id) =>
      update(id, active, () => ({
        status: 'CANCELLED',
        finishedAt: new Date(),
        runId: null,
        finishAnnounced: false,
      })),
    finishedUnannounced: async (cutoff, limit) =>
      all()
        .filter((r) => r.finishAnnounced === false && (r.finishedAt ?? cutoff) < cutoff)
        .slice(0, limit),
    async markFinishAnnounced(id) {
      await update(
        id,
        () => true,
        () => ({ finishAnnounced: true }),
      );
    },
  };
  return api;
}
