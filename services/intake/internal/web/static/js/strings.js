// Every piece of UI text lives here, so a translation is one object away.
// Templates take {name} placeholders, filled by t().
export const strings = {
  appName: 'Consults', titleCount: '({n}) {app}', loading: 'Loading…', working: 'Working…', choose: 'Choose…', back: '← Back', logout: 'Log out',
  live: 'live', reconnecting: 'reconnecting…', offline: 'offline', connection: 'Live updates',
  genericError: 'Something went wrong. Please try again.',
  networkError: 'No connection to the server. Please try again.',
  notFound: 'This consult is not available to you.',
  roles: { referrer: 'Referring physician', specialist: 'Specialist', coordinator: 'Coordinator', admin: 'Administrator' },
  nav: { label: 'Main', new: 'New consult', mine: 'My consults', inbox: 'Inbox', queue: 'Queue' },
  login: { title: 'Sign in', username: 'Username', password: 'Password', submit: 'Sign in', failed: 'Sign-in failed.' },

  status: {
    requested: 'Requested', offered: 'Offered', accepted: 'Accepted', 'info-requested': 'Info requested',
    completed: 'Completed', escalated: 'Escalated', cancelled: 'Cancelled',
  },
  urgency: { emergent: 'Emergent', urgent: 'Urgent', routine: 'Routine' },
  sex: { female: 'Female', male: 'Male', other: 'Other', unknown: 'Unknown' },
  languages: { ar: 'العربية (Arabic)', en: 'English', he: 'עברית (Hebrew)' },
  years: '{n} y',
  overdue: '−{d}',

  form: {
    title: 'New consult', specialty: 'Specialty', urgency: 'Urgency', age: 'Patient age (years)', sex: 'Patient sex',
    reference: 'Patient reference (optional)', referenceHint: 'Your clinic’s file number. No names.',
    question: 'Clinical question', summary: 'Case summary (optional)', language: 'Language of the reply',
    counter: '{n} / {max}', submit: 'Send consult', sending: 'Sending…',
    tooLong: 'Too long: at most {max} characters.', fixErrors: 'Please correct the marked fields.',
    draftKept: 'Your draft is saved on this device until the hospital confirms it.',
    waiting: 'Not sent yet — waiting for the connection, will retry', nextTry: 'next try in',
    receipt: 'Received by the hospital at {time} — status: {status}, with: {with}',
    beingRouted: 'being routed', open: 'Open this consult',
  },
  mine: { title: 'My consults', empty: 'No consults yet.' },
  detail: {
    patient: 'Patient', clinic: 'Clinic', created: 'Sent', with: 'With', acceptBy: 'Accept by',
    question: 'Question', summary: 'Summary', recommendation: 'Recommendation', timeline: 'Timeline',
    thread: 'Messages', noMessages: 'No messages yet.', infoRequest: 'Information requested',
    infoPending: 'The specialist asked for more information. Please reply below.',
    message: 'Message', send: 'Send message',
    askInfo: 'What do you need to know?', askInfoButton: 'Ask for more information',
    recommendationLabel: 'Your recommendation', complete: 'Complete with this recommendation',
    assignTo: 'Assign to', assign: 'Assign', noSpecialists: 'No specialist found for this specialty.',
    cancelReason: 'Reason for cancelling', cancel: 'Cancel consult',
    done: 'Done.', openedBy: 'Opened by {who} at {time}',
  },
  offers: {
    title: 'Live offers', empty: 'No offers right now. New offers appear here by themselves.',
    expiresIn: 'Expires in', expired: 'expired', accept: 'Accept', decline: 'Decline',
    declineReason: 'Reason (optional)', confirmDecline: 'Confirm decline',
    gone: 'This offer is no longer available', accepted: 'Accepted. The consult is yours.', declined: 'Declined.',
    details: 'Details', active: 'My active consults', noActive: 'No active consults.',
  },
  // Alert texts carry no patient details: they show on lock screens and shared desks.
  alerts: {
    enable: 'Enable alerts', on: 'Alerts on', soundOnly: 'Alerts on (sound only)', locked: 'Alerts on — click to allow sound',
    offHint: 'A desktop notification and a tone for each new offer', onHint: 'Click to turn alerts off',
    offered: 'New {urgency} consult offer — {specialty}', reminder: 'Reminder: {urgency} consult offer waiting — {specialty}',
    body: 'Open the inbox to accept or decline.',
  },
  queue: {
    title: 'Open consults', summary: '{open} open · {escalated} escalated · {breached} past deadline',
    status: 'Status', urgency: 'Urgency', specialty: 'Specialty', clinic: 'Clinic', question: 'Question',
    waiting: 'Waiting', sla: 'Accept by', with: 'With', all: 'All', allOpen: 'All open', empty: 'Nothing is waiting.',
    met: 'met', breached: 'breached', oncall: 'On call now', primary: 'Primary', secondary: 'Secondary',
    until: 'until {time}', noOncall: 'No on-call information.',
  },
  events: {
    'consult.requested': 'Requested', 'consult.offered': 'Offered to {who}', 'consult.offer_expired': 'Offer to {who} expired',
    'consult.declined': 'Declined by {who}', 'consult.accepted': 'Accepted by {who}', 'consult.message': 'Message from {actor}',
    'consult.info_requested': 'More information requested', 'consult.completed': 'Completed',
    'consult.escalated': 'Escalated to coordinators', 'consult.cancelled': 'Cancelled', 'consult.assigned': 'Assigned to {who}',
    'consult.seen': 'Opened by {who}', 'consult.offer_reminder': 'Reminder sent to {who}',
  },
  eventBy: 'by {actor}',
};

// t fills {placeholders} in a template.
export const t = (template, vars) => String(template).replace(/\{(\w+)\}/g, (m, k) => (k in vars ? vars[k] : m));
