/*
 * hp_conf.c — group membership: the voter and learner lists, the changes
 * that move one server at a time, and their encoding in CONF entries.
 */
#include <string.h>

#include "harpoon/harpoon.h"

bool hp_conf_is_voter(const hp_conf *conf, hp_id id)
{
	for (uint32_t i = 0; i < conf->voter_count; i++)
		if (conf->voters[i] == id)
			return true;
	return false;
}

bool hp_conf_is_learner(const hp_conf *conf, hp_id id)
{
	for (uint32_t i = 0; i < conf->learner_count; i++)
		if (conf->learners[i] == id)
			return true;
	return false;
}

static void remove_id(hp_id *ids, uint32_t *count, hp_id id)
{
	for (uint32_t i = 0; i < *count; i++) {
		if (ids[i] == id) {
			memmove(&ids[i], &ids[i + 1], (*count - i - 1) * sizeof(*ids));
			(*count)--;
			return;
		}
	}
}

int hp_conf_apply(hp_conf *conf, hp_conf_op op, hp_id id)
{
	if (id == 0)
		return HP_ERR_INVALID;
	bool voter = hp_conf_is_voter(conf, id);
	bool learner = hp_conf_is_learner(conf, id);
	switch (op) {
	case HP_CONF_ADD_LEARNER:
		if (voter || learner || conf->voter_count + conf->learner_count >= HP_MAX_MEMBERS)
			return HP_ERR_INVALID;
		conf->learners[conf->learner_count++] = id;
		return 0;
	case HP_CONF_PROMOTE:
		if (!learner || conf->voter_count >= HP_MAX_VOTERS)
			return HP_ERR_INVALID;
		remove_id(conf->learners, &conf->learner_count, id);
		conf->voters[conf->voter_count++] = id;
		return 0;
	case HP_CONF_REMOVE:
		if (learner) {
			remove_id(conf->learners, &conf->learner_count, id);
			return 0;
		}
		/* A group never loses its last voter. */
		if (!voter || conf->voter_count <= 1)
			return HP_ERR_INVALID;
		remove_id(conf->voters, &conf->voter_count, id);
		return 0;
	}
	return HP_ERR_INVALID;
}

void hp_conf_change_encode(uint8_t out[HP_CONF_CHANGE_BYTES], hp_conf_op op, hp_id id)
{
	out[0] = (uint8_t)op;
	for (int i = 0; i < 8; i++)
		out[1 + i] = (uint8_t)(id >> (8 * i));
}

int hp_conf_change_decode(const uint8_t *data, uint32_t size_bytes, hp_conf_op *op,
                          hp_id *id)
{
	if (size_bytes != HP_CONF_CHANGE_BYTES || data == NULL)
		return HP_ERR_INVALID;
	if (data[0] < HP_CONF_ADD_LEARNER || data[0] > HP_CONF_REMOVE)
		return HP_ERR_INVALID;
	*op = (hp_conf_op)data[0];
	hp_id v = 0;
	for (int i = 0; i < 8; i++)
		v |= (hp_id)data[1 + i] << (8 * i);
	*id = v;
	return v ? 0 : HP_ERR_INVALID;
}

static void put_id(uint8_t *out, hp_id id)
{
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(id >> (8 * i));
}

static hp_id get_id(const uint8_t *in)
{
	hp_id v = 0;
	for (int i = 0; i < 8; i++)
		v |= (hp_id)in[i] << (8 * i);
	return v;
}

size_t hp_conf_encode(const hp_conf *conf, uint8_t *buf, size_t cap)
{
	size_t size = 3 + 8 * ((size_t)conf->voter_count + conf->learner_count);
	if (size > cap || conf->voter_count > HP_MAX_VOTERS ||
	    conf->learner_count > HP_MAX_MEMBERS)
		return 0;
	buf[0] = HP_CONF_FULL_TAG;
	buf[1] = (uint8_t)conf->voter_count;
	buf[2] = (uint8_t)conf->learner_count;
	uint8_t *p = buf + 3;
	for (uint32_t i = 0; i < conf->voter_count; i++, p += 8)
		put_id(p, conf->voters[i]);
	for (uint32_t i = 0; i < conf->learner_count; i++, p += 8)
		put_id(p, conf->learners[i]);
	return size;
}

static int conf_decode_full(hp_conf *out, const uint8_t *data, uint32_t size_bytes)
{
	if (size_bytes < 3 || data[0] != HP_CONF_FULL_TAG)
		return HP_ERR_INVALID;
	uint32_t voters = data[1], learners = data[2];
	if (voters == 0 || voters > HP_MAX_VOTERS || learners > HP_MAX_MEMBERS ||
	    voters + learners > HP_MAX_MEMBERS || size_bytes != 3 + 8 * (voters + learners))
		return HP_ERR_INVALID;
	hp_conf c;
	memset(&c, 0, sizeof(c));
	const uint8_t *p = data + 3;
	for (uint32_t i = 0; i < voters + learners; i++, p += 8) {
		hp_id id = get_id(p);
		if (id == 0 || hp_conf_is_voter(&c, id) || hp_conf_is_learner(&c, id))
			return HP_ERR_INVALID;
		if (i < voters)
			c.voters[c.voter_count++] = id;
		else
			c.learners[c.learner_count++] = id;
	}
	*out = c;
	return 0;
}

int hp_conf_entry_apply(hp_conf *conf, const uint8_t *data, uint32_t size_bytes)
{
	if (data == NULL || size_bytes == 0)
		return HP_ERR_INVALID;
	if (data[0] == HP_CONF_FULL_TAG)
		return conf_decode_full(conf, data, size_bytes);
	hp_conf_op op;
	hp_id id;
	if (hp_conf_change_decode(data, size_bytes, &op, &id) != 0)
		return HP_ERR_INVALID;
	hp_conf c = *conf;
	if (hp_conf_apply(&c, op, id) != 0)
		return HP_ERR_INVALID;
	*conf = c;
	return 0;
}
