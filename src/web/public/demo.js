/*
 * Starts Web Chat against this server's Direct Line routes and keeps the conversation across reloads:
 * the conversation id and token live in sessionStorage; on load a stored token is refreshed and Web Chat
 * reconnects to that conversation (the server replays its history); otherwise the page asks its
 * backend (/api/webchat/token) for a token for a new conversation.
 *
 * While a person from the team holds the conversation, the header names them and their messages carry
 * their name and initials. Both follow what the server says, never the text: the handoff notices carry
 * `channelData.switchboard.handoff` ({owner, agentName, status}: the header line in the customer's
 * language), and an agent's messages `channelData.switchboard.agent`. The server strips
 * `channelData.switchboard` from whatever the customer posts, so only it can set them.
 */
(function () {
  'use strict';
  var STORAGE_KEY = 'nimbus.webchat.session';
  var REFRESH_EVERY_MS = 10 * 60 * 1000;
  var ONLINE = 2; // botframework-directlinejs ConnectionStatus.Online
  var domain = location.origin + document.body.getAttribute('data-directline');

  function load() {
    try { return JSON.parse(sessionStorage.getItem(STORAGE_KEY) || 'null'); } catch (e) { return null; }
  }
  function save(session) {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  }

  function refresh(session) {
    return fetch(domain + '/tokens/refresh', { method: 'POST', headers: { Authorization: 'Bearer ' + session.token } })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (body) { return body && { conversationId: body.conversationId, token: body.token }; })
      .catch(function () { return null; });
  }

  function startNew() {
    return fetch('/api/webchat/token', { method: 'POST' }).then(function (res) {
      if (!res.ok) throw new Error('token request failed with ' + res.status);
      return res.json();
    }).then(function (body) { return { conversationId: body.conversationId, token: body.token }; });
  }

  function session() {
    var stored = load();
    if (!stored || !stored.token || !stored.conversationId) return startNew().then(function (s) { return { session: s, resume: false }; });
    return refresh(stored).then(function (s) {
      return s ? { session: s, resume: true } : startNew().then(function (n) { return { session: n, resume: false }; });
    });
  }

  /** The agent who wrote a message, from the server's mark; undefined for the bot and the customer. */
  function agentOf(activity) {
    if (!activity || !activity.from || activity.from.role === 'user') return undefined;
    var mark = activity.channelData && activity.channelData.switchboard && activity.channelData.switchboard.agent;
    return mark && typeof mark.agentName === 'string' && mark.agentName ? mark.agentName : undefined;
  }

  /** "Ada Lovelace" → "AL", "Ada" → "A" (whole characters, so an emoji or accented letter stays one). */
  function initials(name) {
    var words = name.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) return '?';
    var first = Array.from(words[0])[0] || '';
    var last = words.length > 1 ? Array.from(words[words.length - 1])[0] || '' : '';
    return (first + last).toUpperCase();
  }

  // The header: the assistant, or the person holding the conversation (from the notices the server sends).
  var statusText = document.getElementById('chat-status-text');
  var headerAvatar = document.getElementById('chat-avatar');
  var assistantStatus = statusText.textContent;
  var assistantAvatar = headerAvatar.textContent;
  function showOwner(handoff) {
    var agent = handoff.owner === 'assigned' && typeof handoff.agentName === 'string' && handoff.agentName ? handoff.agentName : undefined;
    statusText.textContent = agent ? (typeof handoff.status === 'string' && handoff.status) || agent : assistantStatus;
    headerAvatar.textContent = agent ? initials(agent) : assistantAvatar;
    document.getElementById('chat').classList.toggle('with-agent', !!agent);
  }

  /** Web Chat's store, watching what arrives (the history replayed on reconnect included) for handoff notices. */
  var store = window.WebChat.createStore({}, function () {
    return function (next) {
      return function (action) {
        if (action.type === 'DIRECT_LINE/INCOMING_ACTIVITY') {
          var activity = action.payload && action.payload.activity;
          var handoff = activity && activity.from && activity.from.role !== 'user' && activity.channelData && activity.channelData.switchboard && activity.channelData.switchboard.handoff;
          if (handoff && typeof handoff.owner === 'string') showOwner(handoff);
        }
        return next(action);
      };
    };
  });

  /**
   * A React element of `type` for the middlewares above. The UMD bundle keeps its React private, so
   * the element is written as the plain object React makes, marked like `like` (one Web Chat made).
   */
  function element(like, type, props) {
    var key = props.key === undefined ? null : props.key;
    var rest = Object.assign({}, props);
    delete rest.key;
    return { $$typeof: like.$$typeof, type: type, key: key, ref: null, props: rest, _owner: null };
  }

  /** Who speaks: the customer, the assistant, or one agent by name (Web Chat groups by role alone). */
  function speaker(activity) {
    if (activity.from && activity.from.role === 'user') return 'user';
    var agent = agentOf(activity);
    return agent ? 'agent:' + agent : 'bot';
  }
  function splitBySpeaker(groups) {
    var out = [];
    (groups || []).forEach(function (group) {
      var current = [];
      group.forEach(function (activity) {
        if (current.length && speaker(current[current.length - 1]) !== speaker(activity)) {
          out.push(current);
          current = [];
        }
        current.push(activity);
      });
      if (current.length) out.push(current);
    });
    return out;
  }

  var chat = document.getElementById('chat');
  var toggle = document.getElementById('chat-toggle');
  toggle.addEventListener('click', function () {
    var minimised = chat.classList.toggle('minimised');
    toggle.setAttribute('aria-expanded', String(!minimised));
    toggle.textContent = minimised ? '+' : '–';
    toggle.title = minimised ? 'Open chat' : 'Minimise chat';
  });

  session().then(function (result) {
    save(result.session);
    var directLine = window.WebChat.createDirectLine({
      domain: domain,
      token: result.session.token,
      // With a conversation id, Web Chat reconnects (GET conversations/{id}) and the history is replayed.
      conversationId: result.resume ? result.session.conversationId : undefined,
    });
    setInterval(function () {
      refresh(load() || result.session).then(function (s) { if (s) save(s); });
    }, REFRESH_EVERY_MS);

    var webChatProps = {
      directLine: directLine,
      store: store,
      locale: 'en-US',
      // The agent sees "Customer is typing…" in the console.
      sendTypingIndicator: true,
      // A person's messages: their initials in the avatar (the assistant keeps its "N"; Web Chat's
      // own avatar reads its initials from styleOptions only, one for every bot message).
      avatarMiddleware: function () {
        return function (next) {
          return function (args) {
            var render = next(args);
            var agent = agentOf(args.activity);
            if (!agent || typeof render !== 'function') return render;
            return function () {
              var own = render();
              if (!own || !own.$$typeof) return own;
              return element(own, 'div', { className: 'nimbus-agent-avatar', title: agent, children: initials(agent) });
            };
          };
        };
      },
      // ... and their name next to the time under the message.
      activityStatusMiddleware: function () {
        return function (next) {
          return function (args) {
            var status = next(args);
            var agent = agentOf(args.activity);
            if (!agent || args.hideTimestamp || !status || !status.$$typeof) return status;
            return element(status, 'span', { className: 'nimbus-agent-status', children: [element(status, 'bdi', { key: 'name', children: agent }), element(status, 'span', { key: 'time', children: [' · ', status] })] });
          };
        };
      },
      // A person's messages are a group of their own, apart from the assistant's (so each shows its avatar).
      groupActivitiesMiddleware: function () {
        return function (next) {
          return function (args) {
            var groups = next(args);
            return Object.assign({}, groups, { sender: splitBySpeaker(groups.sender), status: splitBySpeaker(groups.status) });
          };
        };
      },
      overrideLocalizedStrings: { TEXT_INPUT_PLACEHOLDER: 'Ask about bills, SIMs, roaming…' },
      styleOptions: {
        accent: '#5b3cc4',
        backgroundColor: '#faf9fe',
        botAvatarInitials: 'N',
        botAvatarBackgroundColor: '#5b3cc4',
        userAvatarInitials: 'You',
        bubbleBackground: '#ffffff',
        bubbleBorderRadius: 12,
        bubbleFromUserBackground: '#5b3cc4',
        bubbleFromUserTextColor: '#ffffff',
        bubbleFromUserBorderRadius: 12,
        suggestedActionBorderRadius: 999,
        sendBoxBackground: '#ffffff',
        rootHeight: '100%',
      },
      // Web Chat ignores Enter while it is not connected (the text just stays in the box), so the
      // send box is disabled until the connection is online, and again while it reconnects.
      disabled: true,
    };
    var render = function () { window.WebChat.renderWebChat(webChatProps, document.getElementById('webchat')); };
    render();
    directLine.connectionStatus$.subscribe(function (status) {
      var disabled = status !== ONLINE;
      if (disabled === webChatProps.disabled) return;
      webChatProps.disabled = disabled;
      render();
    });
  }).catch(function () {
    document.getElementById('chat-error').hidden = false;
  });
})();
