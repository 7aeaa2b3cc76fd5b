import { notificationEvents, one, UsageError } from '../arguments.js';
import type { Command } from '../Command.js';
import { describeEmailNotifications } from '../describeEmailNotifications.js';
import { EXIT } from '../exitCodes.js';

export const email: Command = {
  name: 'email',
  synopsis: '',
  summary: 'your notification address: verified or not, on or off, its events',
  async run({ client, args, print }) {
    if (args.length > 0) {
      throw new UsageError(
        `unknown command "email ${args[0] ?? ''}" (email takes set, verify, on, off)`,
      );
    }
    const settings = await client.emailNotifications();
    print(describeEmailNotifications(settings), settings);
    return EXIT.OK;
  },
};

export const emailSet: Command = {
  name: 'email set',
  synopsis: '<address>',
  summary: 'mail notices to this address, once proven: it is sent a 6-digit code',
  async run({ client, args, print }) {
    const settings = await client.setNotificationEmail(one(args, 'email set needs an address'));
    print(
      `${describeEmailNotifications(settings)}\nA code is on its way to ${settings.address}.`,
      settings,
    );
    return EXIT.OK;
  },
};

export const emailVerify: Command = {
  name: 'email verify',
  synopsis: '<code>',
  summary: 'prove the address with the code mailed to it',
  async run({ client, args, print }) {
    const settings = await client.verifyNotificationEmail(one(args, 'email verify needs the code'));
    print(describeEmailNotifications(settings), settings);
    return EXIT.OK;
  },
};

/** `email on` (which may also choose the events) and `email off`: the same change, either way. */
function switchCommand(enabled: boolean, summary: string): Command {
  const name = enabled ? 'on' : 'off';
  return {
    name: `email ${name}`,
    synopsis: enabled ? '[--events succeeded,failed,cancelled]' : '',
    summary,
    async run({ client, values, args, print }) {
      if (args.length > 0) throw new UsageError(`email ${name} takes no arguments`);
      if (!enabled && values.events !== undefined)
        throw new UsageError('email off takes no --events');
      const events = values.events === undefined ? undefined : notificationEvents(values.events);
      const settings = await client.updateEmailNotifications({
        enabled,
        ...(events ? { events } : {}),
      });
      print(describeEmailNotifications(settings), settings);
      return EXIT.OK;
    },
  };
}

export const emailOn = switchCommand(
  true,
  'mail notices to the verified address (default: every event)',
);
export const emailOff = switchCommand(false, 'mail no more notices');

/** Every `reelflux email …` command, in the order the help lists them. */
export const EMAIL_COMMANDS: readonly Command[] = [email, emailSet, emailVerify, emailOn, emailOff];
