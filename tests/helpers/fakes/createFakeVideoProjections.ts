import type {
  VideoProjection,
  VideoProjections,
} from '../../../subgraphs/conversion/createVideoProjections.js';

/** VideoProjections in memory, its videos open to tests. */
export interface FakeVideoProjections extends VideoProjections {
  videos: Map<string, VideoProjection>;
}

/** The Mongo projections' rules: the first event's owner stays; a tombstone stays for good. */
export function createFakeVideoProjections(): FakeVideoProjections {
  const videos = new Map<string, VideoProjection>();
  return {
    videos,
    remember(video) {
      const known = videos.get(video._id);
      if (known?.deleted) return Promise.resolve('deleted');
      if (!known) videos.set(video._id, { ...video });
      return Promise.resolve({ ...(known ?? video) });
    },
    markDeleted(videoId) {
      videos.set(videoId, { _id: videoId, owner: '', filename: '', deleted: true });
      return Promise.resolve();
    },
    isDeleted: (videoId) => Promise.resolve(videos.get(videoId)?.deleted === true),
    findLive(videoId, owner) {
      const video = videos.get(videoId);
      return Promise.resolve(
        video && !video.deleted && video.owner === owner ? { ...video } : null,
      );
    },
  };
}
