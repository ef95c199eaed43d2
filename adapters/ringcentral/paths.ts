// RingCentral API paths used by the adapter ("~" = the account / extension of the JWT user).

export const RINGOUT_PATH = '/restapi/v1.0/account/~/extension/~/ring-out';
/** the JWT user's extension: read by the credentials check and the health probe */
export const EXTENSION_PATH = '/restapi/v1.0/account/~/extension/~';
export const SUBSCRIPTION_PATH = '/restapi/v1.0/subscription';
/** Account-level telephony sessions: every extension's calls, including inbound ones to any DID. */
export const SESSIONS_EVENT_FILTER = '/restapi/v1.0/account/~/telephony/sessions';

export const ringOutPath = (id: string) => `${RINGOUT_PATH}/${encodeURIComponent(id)}`;
export const sessionPath = (telephonySessionId: string) => `/restapi/v1.0/account/~/telephony/sessions/${encodeURIComponent(telephonySessionId)}`;
export const subscriptionPath = (id: string) => `${SUBSCRIPTION_PATH}/${encodeURIComponent(id)}`;
/** Account-level call log: every extension's calls (a recording shows in its record) */
export const COMPANY_CALL_LOG_PATH = '/restapi/v1.0/account/~/call-log';
export const partyRecordingsPath = (telephonySessionId: string, partyId: string) => `${sessionPath(telephonySessionId)}/parties/${encodeURIComponent(partyId)}/recordings`;
export const recordingContentPath = (recordingId: string) => `/restapi/v1.0/account/~/recording/${encodeURIComponent(recordingId)}/content`;
