import type { Broker } from '../lib/broker/createBroker.js';
import { isFinalStatus } from '../lib/contracts/conversionStatus.js';
import type { Logger } from '../lib/platform/logger.js';
import {
  InvalidMessageError,
  parseConversionUpdated,
  parseJsonMessage,
} from '../lib/contracts/messages.js';

export type WatchTarget = { conversionId: string } | { videoId: string };

/** Wakes a watch; `final` when the event announced a final status (worth fetching first). */
export type Wake = (final: boolean) => void;

export interface ConversionEvents {
  /**
   * Calls `wake` for every `conversion.updated` about `target` owned by `ownerId`, and after
   * each broker reconnect (events may have been missed). Returns the function that stops it.
   */
  watch(target: WatchTarget, ownerId: string, wake: Wake): () => void;
}

interface Listener {
  ownerId: string;
  wake: Wake;
}

/**
 * The router's share of `conversion.updated`: one exclusive queue per router process, fanned
 * out in memory to the subscriptions this process serves. Several routers each get every event
 * and wake only their own subscribers.
 */
export function createConversionEvents(broker: Broker, log: Logger): ConversionEvents {
  const byConversion = new Map<string, Set<Listener>>();
  const byVideo = new Map<string, Set<Listener>>();

  const wakeAll = (listeners: Set<Listener> | undefined, ownerId: string, final: boolean) => {
    // The owner check is a second fence: the query the wake-up triggers checks ownership too.
    for (const listener of listeners ?? []) if (listener.ownerId === ownerId) listener.wake(final);
  };

  broker.subscribeEvents(
    'conversion.updated',
    (content) => {
      try {
        const event = parseConversionUpdated(parseJsonMessage(content));
        const final = isFinalStatus(event.status);
        wakeAll(byConversion.get(event.conversionId), event.ownerId, final);
        wakeAll(byVideo.get(event.videoId), event.ownerId, final);
      } catch (error) {
        // A live feed: nothing to redeliver, and the publisher's own tests pin the format.
        if (!(error instanceof InvalidMessageError)) throw error;
        log.warn({ err: error }, 'dropped an invalid conversion.updated event');
      }
    },
    () => {
      for (const listeners of [...byConversion.values(), ...byVideo.values()]) {
        for (const listener of listeners) listener.wake(false);
      }
    },
  );

  return {
    watch(target, ownerId, wake) {
      const [map, key] =
        'conversionId' in target ? [byConversion, target.conversionId] : [byVideo, target.videoId];
      const listener: Listener = { ownerId, wake };
      let listeners = map.get(key);
      if (!listeners) map.set(key, (listeners = new Set()));
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) map.delete(key);
      };
    },
  };
}
