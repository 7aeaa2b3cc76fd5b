import { ErrorCode, graphqlError } from '../contracts/errors.js';
import { BrokerUnavailableError } from './createBroker.js';

/**
 * `work`'s result; or, when RabbitMQ could not take its message (BrokerUnavailableError), a
 * SERVICE_UNAVAILABLE error saying `refusal`: an outage the client should retry, not a bug.
 * Any other error passes as it is.
 */
export async function retryLaterIfBrokerDown<T>(work: Promise<T>, refusal: string): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof BrokerUnavailableError) {
      throw graphqlError(ErrorCode.SERVICE_UNAVAILABLE, refusal);
    }
    throw error;
  }
}
