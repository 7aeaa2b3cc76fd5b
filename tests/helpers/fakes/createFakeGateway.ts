import { readFileSync } from 'node:fs';
import { ApolloServer } from '@apollo/server';
import { ErrorCode, graphqlError } from '../../../lib/contracts/errors.js';
import { SCHEMA_PATHS } from '../../../lib/contracts/subgraphs.js';
import type { RouterContext } from '../../../router/RouterContext.js';

export interface FakeConversion {
  id: string;
  videoId: string;
  ownerId: string;
  status: string;
  progress: number | null;
}

export interface FakeGateway {
  apollo: ApolloServer<RouterContext>;
  conversions: Map<string, FakeConversion>;
  /** Queries answered so far, by the user that asked. */
  queriesBy: string[];
  /** Holds every answer until the function returned is called. */
  hold(): () => void;
  stop(): Promise<void>;
}

/**
 * The router's gateway in a unit test: an Apollo Server over the public API schema whose
 * `conversion` and `video` answer from memory, with the conversion subgraph's owner check
 * (another user's id is NOT_FOUND, as an unknown one).
 */
export async function createFakeGateway(): Promise<FakeGateway> {
  const conversions = new Map<string, FakeConversion>();
  const queriesBy: string[] = [];
  let held: Promise<void> = Promise.resolve();
  const owned = async (id: string, context: RouterContext) => {
    queriesBy.push(context.userId ?? '');
    await held;
    const found = conversions.get(id);
    if (!found || found.ownerId !== context.userId) {
      throw graphqlError(ErrorCode.NOT_FOUND, 'Conversion not found');
    }
    return found;
  };
  const apollo = new ApolloServer<RouterContext>({
    typeDefs: readFileSync(SCHEMA_PATHS.api, 'utf8'),
    resolvers: {
      Query: {
        conversion: (_: unknown, args: { id: string }, context: RouterContext) =>
          owned(args.id, context),
      },
      Conversion: {
        video: (conversion: FakeConversion) => ({ id: conversion.videoId, filename: 'a.mp4' }),
      },
    },
  });
  await apollo.start();
  return {
    apollo,
    conversions,
    queriesBy,
    hold() {
      let release = () => {};
      held = new Promise<void>((resolve) => (release = resolve));
      return () => {
        held = Promise.resolve();
        release();
      };
    },
    stop: () => apollo.stop(),
  };
}
