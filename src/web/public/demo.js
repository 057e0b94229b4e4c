/*
 * Starts Web Chat against this server's Direct Line routes and keeps the conversation across reloads:
 * the conversation id and token live in sessionStorage; on load a stored token is refreshed and Web Chat
 * reconnects to that conversation (the server replays its history); otherwise the page asks its
 * backend (/api/webchat/token) for a token for a new conversation.
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
      locale: 'en-US',
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
        hideUploadButton: true,
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
