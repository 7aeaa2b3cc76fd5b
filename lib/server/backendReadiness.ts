import type { Db } from 'mongodb';
import { pingDatabase } from '../platform/mongo.js';
import type { ReadinessCheck } from './http.js';

/**
 * /readyz's checks for a process's backends: its database answers a ping and, for a process
 * on RabbitMQ, the broker has its channel (Broker.check, from lib/broker).
 */
export function backendReadiness(db: Db, broker?: { check(): Promise<void> }): ReadinessCheck[] {
  const checks: ReadinessCheck[] = [['mongodb', () => pingDatabase(db)]];
  if (broker) checks.push(['rabbitmq', () => broker.check()]);
  return checks;
}
