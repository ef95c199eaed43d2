// The DomainErrors both stores raise, built in one place so a client sees the same code, message
// and details whichever store runs.

import { DomainError } from '../domain/errors.js';

export const storeErrors = {
  numberTaken: (number: string) =>
    new DomainError('number_taken', `number ${number} already belongs to another user`, { number }),
  regionUnavailable: (providerId: string, region: string) =>
    new DomainError('region_unavailable', `provider ${providerId} does not serve region ${region}`, { providerId, region }),
  regionsStrandUsers: (providerId: string, count: number, users: { userId: string; region: string }[]) =>
    new DomainError(
      'region_unavailable',
      `the new regions of provider ${providerId} would leave ${count} of its users in regions it no longer serves (${users
        .slice(0, 5)
        .map((u) => `${u.userId}: ${u.region}`)
        .join(', ')}${count > 5 ? ', ...' : ''}); move or remove them first`,
      { providerId, count, users },
    ),
  userNotFound: (userId: string) => new DomainError('user_not_found', `user ${userId} not found`),
  providerNotFound: (providerId: string) => new DomainError('provider_not_found', `provider ${providerId} not found`),
  callNotFound: (callId: string) => new DomainError('call_not_found', `call ${callId} not found`),
  providerExists: (providerId: string) =>
    new DomainError('validation_failed', `provider id ${providerId} already exists`, { providerId }),
  providerHasUsers: (providerId: string, count: number) =>
    new DomainError(
      'provider_has_users',
      `provider ${providerId} still has ${count} user(s); remove them first or uninstall with force`,
      { count },
    ),
};
