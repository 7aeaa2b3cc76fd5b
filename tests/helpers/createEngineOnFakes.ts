import {
  createConversionEngine,
  type ConversionEngine,
} from '../../lib/conversions/createConversionEngine.js';
import { createLogger, type Logger } from '../../lib/platform/logger.js';
import { createFakeBroker, type FakeBroker } from './fakes/createFakeBroker.js';
import { createFakeConversions, type FakeConversions } from './fakes/createFakeConversions.js';

/** The real conversion engine over an in-memory broker and store, and a silent logger. */
export interface EngineOnFakes {
  engine: ConversionEngine;
  broker: FakeBroker;
  store: FakeConversions;
  log: Logger;
}

export function createEngineOnFakes(): EngineOnFakes {
  const broker = createFakeBroker();
  const store = createFakeConversions();
  const log = createLogger('test', 'silent');
  return {
    engine: createConversionEngine({ conversions: store, broker, log }),
    broker,
    store,
    log,
  };
}
